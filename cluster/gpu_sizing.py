"""Batch sizes from GPU memory. The driver (a CPU head) has no GPU to ask, so memory comes from the
accelerator type Ray advertises for each GPU node (`accelerator_type:H100`), or from
THUMPER_GPU_MEMORY_GB; an unknown type falls back to a batch that fits a 16 GB card."""
from __future__ import annotations


from models.settings import settings

# GB per GPU, by the accelerator type Ray reports for NVIDIA cards
GPU_MEMORY_GB = {
    "H200": 141, "H100": 80, "A100-80G": 80, "A100-40G": 40, "A100": 40, "L40S": 48, "L40": 48,
    "A10G": 24, "A10": 24, "L4": 24, "RTX": 24, "V100": 16, "T4": 16,
}
FALLBACK_GB = 16
# Rough peak per image for a YOLOv9-c-sized detector at 640 px in fp16 (activations + NMS
# buffers), with headroom; scales with pixel count. A larger detector: pass --batch-size.
DETECT_GB_PER_IMAGE_AT_640 = 0.1
MIN_BATCH, MAX_BATCH = 8, 256


def gpu_memory_gb(resources: dict) -> float:
    """Memory of the smallest GPU type in the cluster: a batch must fit on every node."""
    if override := settings().gpu_memory_gb:
        return float(override)
    known = [GPU_MEMORY_GB[k.split(":", 1)[1]] for k in resources
             if k.startswith("accelerator_type:") and k.split(":", 1)[1] in GPU_MEMORY_GB]
    return float(min(known)) if known else float(FALLBACK_GB)


def detect_batch_for(memory_gb: float, gpu_fraction: float, imgsz: int = 640) -> int:
    """Images per detector call that fit in this actor's share of the GPU (80% of it: the CUDA
    context and the weights take the rest), in multiples of 8."""
    share = memory_gb * gpu_fraction * 0.8
    per_image = DETECT_GB_PER_IMAGE_AT_640 * (imgsz / 640) ** 2
    batch = int(share / per_image) // 8 * 8
    return max(MIN_BATCH, min(MAX_BATCH, batch))
