#!/usr/bin/env bash
# `make demo`: the whole pipeline on the bundled planted-motif data (data/).
#
# Every seqcnn output appears only once complete (it is written under a temporary name and
# renamed), so after an interruption `make demo` continues where it stopped: a step whose
# output exists and is newer than its inputs is skipped, and an interrupted training run
# is continued with --resume.  FRESH=1 redoes every step.
set -euo pipefail
out=${1:-demo}
seqcnn=${SEQCNN:-.venv/bin/seqcnn}
fresh=${FRESH:-0}
mkdir -p "$out"

# up_to_date OUTPUT INPUT...: OUTPUT exists and is newer than every INPUT (and no FRESH=1).
up_to_date() {
  local output=$1 input
  shift
  [[ $fresh != 1 && -e $output ]] || return 1
  for input in "$@"; do
    [[ $output -nt $input ]] || return 1
  done
}

skipped() { echo "   $1 is already complete (FRESH=1 redoes it)"; }

dataset="$out/planted.ds"
model="$out/seqcnn_model"
partial="$out/.seqcnn_model.partial" # where train keeps its checkpoints while it runs

echo "== 1/4 encode: data/planted.fa.gz + labels -> $dataset"
if up_to_date "$dataset" data/planted.fa.gz data/planted_labels.tsv.gz; then
    skipped "$dataset"
else
    $seqcnn encode data/planted.fa.gz --labels data/planted_labels.tsv.gz -o "$dataset" --force
fi

echo "== 2/4 train: default cnn, 70/10/20 split, rc augmentation"
train=($seqcnn train "$dataset" -o "$model" --test-fraction 0.2 --rc-augment --force)
if up_to_date "$model" "$dataset"; then
    skipped "$model"
elif [[ $fresh != 1 && -f $partial/checkpoint.json ]]; then
    echo "   continuing the interrupted run ($partial)"
    # Exit status 2: the checkpoint is of other options or data; anything else stops here.
    "${train[@]}" --resume || {
        status=$?
        [[ $status == 2 ]] || exit $status
        echo "   could not resume that run; training afresh"
        "${train[@]}"
    }
else
    "${train[@]}"
fi
$seqcnn describe "$model" | tail -3

echo "== 3/4 predict: $out/predictions.tsv"
if up_to_date "$out/predictions.tsv" "$model" data/planted.fa.gz; then
    skipped "$out/predictions.tsv"
else
    $seqcnn predict data/planted.fa.gz -m "$model" -o "$out/predictions.tsv" --quiet --force
fi
head -3 "$out/predictions.tsv" | cut -c1-120

echo "== 4/4 interpret: filters -> PWMs -> JASPAR matches, logos, report"
if up_to_date "$out/interpret" "$model" data/planted.fa.gz; then
    skipped "$out/interpret"
else
    $seqcnn interpret data/planted.fa.gz -m "$model" -o "$out/interpret" --force
fi

echo
echo "Report: $out/interpret/report.html  (model: $out/seqcnn_model)"
