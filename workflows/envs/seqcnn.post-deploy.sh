#!/usr/bin/env bash
# Runs once, inside the new conda environment, in Snakemake's working directory: installs
# seqcnn from $SEQCNN_SOURCE, else from the working directory (the repository root when the
# workflow is run as documented).  Pip also brings seqcnn's dependencies (torch included).
set -euo pipefail
python -m pip install --quiet "${SEQCNN_SOURCE:-.}[parquet]"
