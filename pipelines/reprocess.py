"""Ray job entry point for bulk (re)processing:

    export RAY_AUTH_MODE=token    # `ray job submit` sends the cluster's token only with this set
    ray job submit --working-dir . -- python -m pipelines.reprocess PHOTOS_DIR [--reprocess] ...
    ray job submit --working-dir . -- python -m pipelines.reprocess --all --reprocess --detector PATH

With PHOTOS_DIR it is `thumper census PHOTOS_DIR`; with --all it processes every photo already in
the store (pending ones, or all of them with --reprocess) without walking a folder. The job's
driver joins the cluster with the RAY_AUTH_MODE and token of the node it runs on (README, "As a
Ray job"; docs/scale-out.md, "Token authentication").
"""
import sys

from thumper.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--all" in argv:
        argv.remove("--all")
        sys.exit(main(["process", *argv]))
    sys.exit(main(["census", *argv]))
