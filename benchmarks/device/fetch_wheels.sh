#!/usr/bin/env bash
# Wheels the GPU machine lacks for benchmarks/core_throughput.py, into ./.whl (git-ignored here
# through .git/info/exclude): Ultralytics and pydantic-settings with what they need beyond the
# machine's torch, torchvision, timm, numpy, pillow, opencv and pyyaml. About 5 MB. Versions as
# in this checkout's .venv. Ray (a 76 MB wheel) cannot travel: the device's carry limit is 64 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
version() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
mkdir -p .whl
for name in ultralytics ultralytics-thop pydantic pydantic-core pydantic-settings python-dotenv \
            typing-inspection typing-extensions annotated-types; do
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$name==$(version "$name")" 2> >(grep -v "is ignored: it is neither" >&2)
done
du -sh .whl
