"""The inference core alone (models/: no Ray, no database) on one device, at several batch sizes:
what the pipeline's detector and crop-model actors can reach at most on that device, and whether
its GPU path works at all (nvJPEG decode, fp16, the batch the GPU's memory allows).

    .venv/bin/python benchmarks/core_throughput.py --device cpu --batches 8 --photos 16
    python3 benchmarks/core_throughput.py --device cuda --detector-arch yolov9c --batches 8,32,64,128

For each batch size: decode (`models.letterbox.letterbox_batch` on the device: nvJPEG on a GPU,
libjpeg on CPU; Pillow's draft-mode `letterbox` on one CPU thread beside it for reference),
detect (`models.detector.Detector`, fp16 on a GPU), and classify + embed (`models.inference.
CropModels`: the crops are cut on CPU from the encoded photo, then one pass per model; given two
animal boxes a photo, since an untrained detector's boxes are noise; `cut/s` is the cutting alone,
on one CPU thread) in photos/s, the detector's peak GPU memory a photo (against
cluster/gpu_sizing.py's DETECT_GB_PER_IMAGE_AT_640), and GPU utilisation sampled with NVML
(pace.GpuSampler) while it detects. Needs neither Ray nor Postgres, so it runs on a
GPU machine that has only torch, torchvision and timm, with Ultralytics and pydantic-settings
beside (benchmarks/device/README.md). Timings of an untrained YOLO are real; its boxes are not.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pace import DETECTOR_ARCHS, GpuSampler, detector_for  # noqa: E402

TARGET = 2000.0  # photos/s the design aims for on one GPU box


def timed(fn, device: str, repeat: int) -> tuple[float, object]:
    """Seconds a call, the best of `repeat` (after one warm-up call), the device synchronised."""
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    out = fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="cuda, cuda:N, cpu, or auto (cuda when there is one)")
    ap.add_argument("--detector-arch", choices=DETECTOR_ARCHS, default="yolov9c",
                    help="yolov9c: MegaDetector v6-c's shape (default); demo: the project's demo detector")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batches", default="8,32,64,128", help="batch sizes, comma-separated")
    ap.add_argument("--photos", type=int, default=64, help="distinct synthetic photos (repeated to fill a batch)")
    ap.add_argument("--size", default="1920x1080", help="photo size (default 1920x1080)")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per figure (the best is kept)")
    args = ap.parse_args()

    import torch

    from cluster.gpu_sizing import DETECT_GB_PER_IMAGE_AT_640
    from models.classifier import Classifier
    from models.crops import cut_crops
    from models.detector import Detector
    from models.embedder import Embedder
    from models.inference import CropModels
    from models.letterbox import letterbox, letterbox_batch
    from models.recipes.demo import ensure_demo_classifier, ensure_demo_embedder
    from models.synthetic import make_photo_folder
    from models.types import Detection

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    half = device.startswith("cuda")
    w, h = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="thumper-core-") as tmp:
        make_photo_folder(Path(tmp), photos_per_location=max(1, -(-args.photos // 3)), seed=1, size=(w, h))
        photos = [p.read_bytes() for p in sorted(Path(tmp).rglob("*.JPG"))[:args.photos]]
    det_path = detector_for(args.detector_arch, args.imgsz)
    detector = Detector(det_path, device=device, imgsz=args.imgsz, half=half)
    crops = CropModels(Classifier(ensure_demo_classifier(), device=device, half=half),
                       Embedder(ensure_demo_embedder(), device=device, half=half))
    gpu = torch.cuda.get_device_name(device) if half else "none"
    print(f"device {device} ({gpu}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"detector {args.detector_arch} at {args.imgsz} px{' fp16' if half else ''}; {len(photos)} photos {w}x{h}")

    pillow, _ = timed(lambda: [letterbox(p, args.imgsz) for p in photos[:8]], "cpu", 1)
    print(f"Pillow draft-mode letterbox, one CPU thread: {8 / pillow:8.1f} photos/s")
    print(f"{'batch':>6} {'decode/s':>9} {'detect/s':>9} {'crops/s':>9} {'cut/s':>7} {'GPU busy':>9} {'GB/photo':>9}  "
          f"detect at most, against {TARGET:,.0f}/s")
    boxes = [(0.1, 0.2, 0.35, 0.6), (0.5, 0.3, 0.8, 0.9)]
    for batch in [int(b) for b in args.batches.split(",") if b]:
        data = [photos[i % len(photos)] for i in range(batch)]
        t_decode, (canvas, placements, errors) = timed(lambda: letterbox_batch(data, args.imgsz, device), device,
                                                       args.repeat)
        assert not any(errors), errors
        if half:
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        with GpuSampler(interval=0.05) as gpu:
            t_detect, _ = timed(lambda: detector.detect(canvas, placements), device, args.repeat)
        busy = f"{gpu.mean():.0f}%" if half and gpu.mean() is not None else "-"
        per_photo = (torch.cuda.max_memory_allocated(device) - base) / 2**30 / batch if half else float("nan")
        dets = [[Detection(b, 0.9, "animal") for b in boxes] for _ in data]
        t_cut, _ = timed(lambda: [cut_crops(p, boxes, crops.crop_size) for p in data], "cpu", 1)
        t_crops, described = timed(lambda: crops.describe_many(data, dets), device, 1)
        assert all(d.embedding is not None or not d.is_deer for ds in described for d in ds)
        print(f"{batch:>6} {batch / t_decode:9.1f} {batch / t_detect:9.1f} {batch / t_crops:9.1f} "
              f"{batch / t_cut:7.1f} {busy:>9} {per_photo:9.3f}  {batch / t_detect / TARGET:5.2f}x")
    if half:
        print(f"cluster/gpu_sizing.py plans {DETECT_GB_PER_IMAGE_AT_640 * (args.imgsz / 640) ** 2:.3f} GB a photo "
              f"at {args.imgsz} px; the column above is what this detector took")


if __name__ == "__main__":
    main()
