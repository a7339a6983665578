"""Names of the architectures and activations, importable without torch.

The command line builds its choice lists from these when it starts, so ``seqcnn --help``
never loads torch; :mod:`seqcnn.models.architectures` and :mod:`seqcnn.models.blocks`
take the same names from here.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "ARCHITECTURE_NAMES", "POSITION_ARCHITECTURES"]

# The keys of seqcnn.models.ARCHITECTURES, in the order they are registered.
ARCHITECTURE_NAMES = ("cnn", "resnet", "dilated", "unet", "bpnet")
#: Architectures made for per-position outputs: their own head is a position head.
POSITION_ARCHITECTURES = ("unet", "bpnet")
ACTIVATIONS = ("relu", "gelu", "elu", "softplus", "exp")
