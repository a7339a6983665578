#!/usr/bin/env bash
# `make demo`: the whole pipeline on the bundled planted-motif data (data/).
set -euo pipefail
out=${1:-demo}
seqcnn=${SEQCNN:-.venv/bin/seqcnn}
mkdir -p "$out"

echo "== 1/3 encode: data/planted.fa.gz + labels -> $out/planted.ds"
$seqcnn encode data/planted.fa.gz --labels data/planted_labels.tsv.gz -o "$out/planted.ds" --force

echo "== 2/3 train: a default cnn with exponential first-layer activation (70/10/20 split)"
$seqcnn train "$out/planted.ds" -o "$out/seqcnn_model" --test-fraction 0.2 \
    --first-activation exp --rc-augment --force
$seqcnn describe "$out/seqcnn_model" | tail -3

echo "== 3/3 done: model bundle in $out/seqcnn_model (metrics.csv, learning_curve.png)"
