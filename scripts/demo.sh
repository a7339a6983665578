#!/usr/bin/env bash
# `make demo`: the whole pipeline on the bundled planted-motif data (data/).
set -euo pipefail
out=${1:-demo}
seqcnn=${SEQCNN:-.venv/bin/seqcnn}
mkdir -p "$out"

echo "== 1/4 encode: data/planted.fa.gz + labels -> $out/planted.ds"
$seqcnn encode data/planted.fa.gz --labels data/planted_labels.tsv.gz -o "$out/planted.ds" --force

echo "== 2/4 train: default cnn, 70/10/20 split, rc augmentation"
$seqcnn train "$out/planted.ds" -o "$out/seqcnn_model" --test-fraction 0.2 --rc-augment --force
$seqcnn describe "$out/seqcnn_model" | tail -3

echo "== 3/4 predict: $out/predictions.tsv"
$seqcnn predict data/planted.fa.gz -m "$out/seqcnn_model" -o "$out/predictions.tsv" --quiet
head -3 "$out/predictions.tsv" | cut -c1-120

echo "== 4/4 interpret: filters -> PWMs -> JASPAR matches, logos, report"
$seqcnn interpret data/planted.fa.gz -m "$out/seqcnn_model" -o "$out/interpret" --force

echo
echo "Report: $out/interpret/report.html  (model: $out/seqcnn_model)"
