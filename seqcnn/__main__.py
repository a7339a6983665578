"""``python -m seqcnn`` (and ``torchrun -m seqcnn``) runs the command line."""

from .cli import run

run()
