"""Ray job entry point for bulk (re)processing:

    ray job submit --working-dir . -- python -m pipelines.reprocess PHOTOS_DIR [--reprocess] ...
    ray job submit --working-dir . -- python -m pipelines.reprocess --all --reprocess --detector PATH

With PHOTOS_DIR it is `thumper census PHOTOS_DIR`; with --all it processes every photo already in
the store (pending ones, or all of them with --reprocess) without walking a folder.
"""
import sys

from thumper.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--all" in argv:
        argv.remove("--all")
        sys.exit(main(["process", *argv]))
    sys.exit(main(["census", *argv]))
