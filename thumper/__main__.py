from thumper.cli import main

raise SystemExit(main())
