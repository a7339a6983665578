"""``python -m seqcnn.cli`` runs the command line, as ``python -m seqcnn`` does."""

from . import main

main()
