#!/usr/bin/env bash
# The device check, as one command (run from the repo root on the GPU machine, .whl carried):
#   bash benchmarks/device/core_check.sh
# Installs the carried wheels beside the machine's torch, then runs the inference core on the GPU
# for both detector shapes; output and nvidia-smi go to $OUT (or ./device-out).
set -uo pipefail
OUT=${OUT:-device-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 YOLO_OFFLINE=1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python3 -c "import torch, torchvision, timm, ultralytics as u; print('torch', torch.__version__,
    'torchvision', torchvision.__version__, 'timm', timm.__version__, 'ultralytics', u.__version__)" 2>&1 |
    tee "$OUT/versions.txt"
for arch in yolov9c yolov8n; do
    timeout 240 python3 benchmarks/core_throughput.py --device cuda --detector-arch "$arch" \
        --batches 8,32,64,128,256 --photos 64 2>&1 | tee "$OUT/core-$arch.txt"
done
