"""Device facts the training loop needs."""

from __future__ import annotations


def accelerator_available() -> bool:
    """Whether an accelerator (CUDA, MPS, XPU...) is present: pinned host memory only helps then.

    ``dataloader_pin_memory`` defaults to true; on a CPU-only machine the data loader would warn
    about it on every run, so the trainer pins memory only when this is true.
    """
    import torch

    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and hasattr(accelerator, "is_available"):
        return bool(accelerator.is_available())
    return bool(torch.cuda.is_available())


__all__ = ["accelerator_available"]
