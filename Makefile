# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates (or refreshes) the virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Exactly this torch: on our machines it is a local CPU wheel; a looser spec pulls the
# registry's newest build with gigabytes of CUDA packages.  Override on other machines,
# e.g. `make test TORCH=torch`.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: install demo workflow test lint format bench bench-real bench-motifs clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,parquet,workflow,notebook,discover,tune]'
	touch $(STAMP)

install: $(STAMP)

## demo: run the whole pipeline on the bundled planted-motif demo data
demo: $(STAMP)
	bash scripts/demo.sh $(DEMO)

## demo-unet: a per-position U-Net on simulated planted motifs (a mask per motif), its
## per-base AUPRC next to a known-PWM oracle's, into $(DEMO)/unet (a few minutes on 2 CPUs;
## benchmarks/per_position.py --simulated is the full acceptance run)
.PHONY: demo-unet
demo-unet: $(STAMP)
	$(BIN)/python benchmarks/per_position.py --simulated --only segmentation --n 3000 \
		--epochs 10 --no-targets --out $(DEMO)/unet

## workflow: the same pipeline as a Snakemake workflow (workflows/), into demo/workflow
workflow: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake -s workflows/Snakefile --cores 2 \
		--configfile workflows/config.yaml

## test: run the test suite (installs Debian's chromium first if missing: the report test
## clicks the HTML table in it; the script is silent when it is there)
test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check seqcnn tests benchmarks scripts
	$(BIN)/ruff format --check seqcnn tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff format seqcnn tests benchmarks scripts
	$(BIN)/ruff check --fix seqcnn tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/encode.py

## bench-real: defaults on real public data (DATA=folder like ../shared/data), ~35 min on 2 CPUs
DATA ?= ../shared/data
bench-real: $(STAMP)
	$(BIN)/python benchmarks/real_data.py $(DATA) --out bench-out/real

## bench-motifs: planted-motif recovery of Koo & Eddy's CNN-25 / CNN-2 next to the defaults
bench-motifs: $(STAMP)
	$(BIN)/python benchmarks/motifs.py --out bench-out/motifs

## bench-genome: CTCF/PU.1 peaks on chr20 against real background, and scan vs predict speed
## (DATA=folder like ../shared/data; ~20 min on 2 CPUs; fails if scan < 0.9x predict;
## on a busy machine GENOME_FLAGS='--threads 1 --repeats 2')
GENOME_FLAGS ?=
.PHONY: bench-genome
bench-genome: $(STAMP)
	$(BIN)/python benchmarks/genome.py $(DATA) --out bench-out/genome $(GENOME_FLAGS)

## gpu-check: the CUDA, mixed-precision, multi-GPU and resume checks on a GPU machine
## (README "GPU check"; under 6 min), summary.json + summary.md into GPU_OUT
## (make gpu-check GPU_FLAGS=--dry-run runs every check on the CPU at tiny sizes)
GPU_OUT ?= bench-out/gpu
GPU_FLAGS ?=
.PHONY: gpu-check
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu.py --out $(GPU_OUT) $(GPU_FLAGS)

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
