"""Where a run trains: the device, mixed precision, and the processes of a ``torchrun`` job.

Under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains on its share of each epoch's
rows and DistributedDataParallel averages the gradients (NCCL on GPUs, gloo on CPUs); rank
0 alone writes checkpoints and the bundle.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["distributed", "training_device", "amp_dtype_for", "for_world", "end_distributed"]


def distributed() -> tuple[int, int]:
    """``(rank, world_size)``, initialising torch.distributed when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def training_device(name: str, world: int) -> torch.device:
    """The device for ``--device name``; with several processes on CUDA, each process's own
    GPU (``LOCAL_RANK``)."""
    import torch

    from ..forward import pick_device

    device = pick_device(name)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def amp_dtype_for(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype: on CUDA bfloat16 where supported, else float16; ``None`` (full
    precision) elsewhere or without ``amp``."""
    import torch

    if amp and device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def for_world(network, device: torch.device, world: int):
    """The module the training step runs: the network itself, or its DistributedDataParallel
    wrapper in a job of several processes."""
    if world <= 1:
        return network
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        network, device_ids=[device.index] if device.type == "cuda" else None
    )


def end_distributed(world: int) -> None:
    """Wait for every process (rank 0 writes the bundle), then leave the process group."""
    if world <= 1:
        return
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()
