"""GPU check: one command that proves seqcnn's CUDA, mixed-precision and multi-GPU paths.

It runs five named checks and writes ``summary.json`` and ``summary.md`` into ``--out``
(rewritten after every check, so a run stopped by a time limit still leaves what it did):

1. ``predict_parity``: a bundle's predictions on the GPU against the CPU, as the maximum
   absolute difference of the probabilities: in float32 with TF32 off <= 1e-4, with
   PyTorch's default cuDNN settings (TF32 convolutions on Ampere and later) <= 5e-3, under
   autocast (:func:`seqcnn.forward.run_network` with ``amp_dtype``) in bfloat16 <= 5e-2 and
   float16 <= 1e-2; and ``pick_device("auto")`` / ``predict(device="auto")`` pick CUDA.
2. ``train_throughput``: :func:`seqcnn.train` (memory-mapped codes, reverse-complement and
   shift augmentation, one-hot built on the GPU, validation every epoch) against a bare
   PyTorch loop over a one-hot tensor already on the GPU (same network from
   :func:`seqcnn.build_model`, seed, batch, AdamW, clipping and autocast dtype), for the
   ``cnn`` at 200 bp and the ``dilated`` network at 1 kb; goal >= 0.9x, with the GPU
   utilisation of each run (``nvidia-smi``, sampled by a background thread).
3. ``predict_throughput``: :func:`seqcnn.predict` on in-memory codes and
   :func:`seqcnn.predict_file` from FASTA to TSV (what ``seqcnn predict`` runs) against a
   bare inference loop over a one-hot tensor on the GPU, at batch sizes 256, 1024 and 4096;
   goal >= 0.9x at the best batch size, which is reported for a device-aware default.
4. ``multi_gpu``: with 2 or more GPUs, ``torchrun --nproc_per_node N -m seqcnn train`` (NCCL)
   for a few epochs against one GPU with the same global batch; the validation AUROC within
   0.02.  Skipped with one GPU.
5. ``resume``: ``seqcnn train`` in a subprocess, killed (SIGKILL) as soon as the first
   epoch's checkpoint appears, then ``--resume``: the bundle's weights against those of an
   uninterrupted run.  With deterministic algorithms on (``torch.use_deterministic_algorithms``
   and ``CUBLAS_WORKSPACE_CONFIG``) they must be bit-identical; with seqcnn's defaults the
   difference is reported next to that of a repeated uninterrupted run.

Without ``--dry-run`` it exits 2 when there is no CUDA device and 1 when a check fails or a
throughput ratio is below its goal.  ``--dry-run`` runs every check on the CPU at tiny sizes
(seconds), the CPU standing in for the GPU (autocast in bfloat16 and float16 where torch
supports it on the CPU), skips what cannot run there (several GPUs) with a reason, and
prints the ratios without enforcing them; ``make test`` runs it (tests/test_gpu_check.py).

On a GPU machine with internet access (Linux x86-64, a recent NVIDIA driver)::

    python3 -m venv .venv && . .venv/bin/activate
    pip install torch==2.13.0   # PyPI's Linux x86-64 wheel is built with CUDA; for another
                                # CUDA: --index-url https://download.pytorch.org/whl/cu126
    pip install -e .
    python -c "import torch; print(torch.version.cuda, torch.cuda.is_available())"
    make gpu-check GPU_OUT=gpu-out      # or: python benchmarks/gpu.py --out gpu-out

On this project's lent device machine (no network; its ``python3`` already has CUDA torch):
``bash benchmarks/gpu_run.sh`` (see there).  Usage::

    python benchmarks/gpu.py --out DIR [--dry-run] [--only NAMES] [--repeats 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The repository's seqcnn is the one checked, installed or not (also in subprocesses).
sys.path.insert(0, str(ROOT))

CHECKS = {
    "predict_parity": "CPU and GPU predictions agree (fp32, TF32, bf16, fp16); auto picks CUDA",
    "train_throughput": "seqcnn.train against a bare PyTorch loop",
    "predict_throughput": "seqcnn.predict / predict_file against a bare forward loop",
    "multi_gpu": "torchrun DDP (NCCL) against one GPU",
    "resume": "resume after kill gives the weights of an uninterrupted run",
}
#: Maximum absolute difference of the probabilities against the CPU in float32.
TOLERANCES = {"fp32": 1e-4, "default": 5e-3, "bf16": 5e-2, "fp16": 1e-2}
GOAL = 0.9  # throughput of seqcnn / bare loop
DDP_AUROC_TOLERANCE = 0.02
MOTIF = "TGACTCA"  # AP-1: planted in half of the training rows
#: What seqcnn needs for these checks (import names); the device machine lacks Bio.
REQUIRED = ("torch", "Bio", "click", "pandas", "safetensors", "tqdm", "yaml", "matplotlib")
DETERMINISTIC_LAUNCHER = (
    "import runpy, sys, torch; torch.use_deterministic_algorithms(True, warn_only=True); "
    "torch.backends.cudnn.benchmark = False; runpy.run_module('seqcnn', run_name='__main__', "
    "alter_sys=True)"
)


@dataclass(frozen=True)
class Sizes:
    """How much work each check does."""

    parity_rows: int
    predict_rows: int
    predict_batches: tuple[int, ...]
    train_cases: dict[str, tuple[str, int, int]]  # name: (architecture, length, rows)
    train_batches: tuple[int, ...]
    train_epochs: int
    warmup_batches: int
    resume_rows: int  # cnn at 200 bp, batch 64
    resume_epochs: int
    resume_variants: tuple[str, ...]
    ddp_rows: int
    ddp_epochs: int
    ddp_batch: int


GPU_SIZES = Sizes(
    parity_rows=4096,
    predict_rows=200_000,
    predict_batches=(256, 1024, 4096),
    train_cases={"cnn": ("cnn", 200, 60_000), "dilated": ("dilated", 1000, 15_000)},
    train_batches=(64, 256),
    train_epochs=2,
    warmup_batches=20,
    resume_rows=40_000,
    resume_epochs=3,
    resume_variants=("deterministic", "default"),
    ddp_rows=40_000,
    ddp_epochs=3,
    ddp_batch=256,
)
DRY_SIZES = Sizes(  # the code paths only: seconds on two CPU cores
    parity_rows=64,
    predict_rows=256,
    predict_batches=(64, 256),
    train_cases={"cnn": ("cnn", 200, 96), "dilated": ("dilated", 300, 48)},
    train_batches=(32,),
    train_epochs=1,
    warmup_batches=1,
    resume_rows=192,
    resume_epochs=3,
    resume_variants=("deterministic",),
    ddp_rows=256,
    ddp_epochs=2,
    ddp_batch=32,
)


@dataclass
class Context:
    """What every check works with."""

    dry_run: bool
    device: object  # torch.device standing for "the GPU" (the CPU in a dry run)
    sizes: Sizes
    work: Path
    repeats: int
    seed: int
    sampler: GpuSampler
    ddp_cpu: bool = False

    @property
    def device_name(self) -> str:
        return str(self.device)


@dataclass
class Outcome:
    """What a check found: a headline, numbers, table rows, goals and failures."""

    headline: str = ""
    numbers: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    goals: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None

    def goal(self, what: str, value: float, goal: float, enforced: bool) -> bool:
        met = bool(value >= goal)
        self.goals.append(
            {"what": what, "value": round(value, 3), "goal": goal, "met": met, "enforced": enforced}
        )
        return met

    def require(self, ok: bool, message: str) -> None:
        if not ok:
            self.failures.append(message)


# ----------------------------------------------------------------------------- helpers


class GpuSampler:
    """GPU utilisation (%) from ``nvidia-smi`` every ~0.1 s, read by a background thread."""

    def __init__(self, index: int | None):
        self.samples: list[tuple[float, float]] = []
        self.exe = shutil.which("nvidia-smi") if index is not None else None
        self.index = index
        self.stop = threading.Event()
        self.thread = None
        if self.exe:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        command = [
            self.exe,
            "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits",
            "-i",
            str(self.index),
        ]
        while not self.stop.is_set():
            try:
                text = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
                self.samples.append((time.perf_counter(), float(text.strip().splitlines()[0])))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            self.stop.wait(0.1)

    def mean(self, start: float, end: float) -> float | None:
        """Mean utilisation between two ``time.perf_counter()`` readings (None: no samples)."""
        values = [v for t, v in list(self.samples) if start <= t <= end]
        return round(statistics.fmean(values), 1) if values else None

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def amp_dtype_for(device):
    """The autocast dtype seqcnn.train uses: bf16 on CUDA where supported, else fp16; none
    on other devices."""
    import torch

    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "") if dtype is not None else "off"


def subprocess_env(**extra: str) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def first(pair: tuple):
    return pair[0]


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("nan")


def planted_dataset(work: Path, n: int, length: int, seed: int):
    """A binary planted-motif dataset (half the rows hold one AP-1 site), encoded once."""
    import seqcnn

    folder = work / f"planted-{n}x{length}.ds"
    if (folder / "dataset.json").is_file():
        return seqcnn.load_dataset(folder)
    rng = np.random.default_rng([seed, n, length])
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    motif = np.frombuffer(MOTIF.encode(), dtype=np.uint8)
    labels = rng.random(n) < 0.5
    rows = letters[rng.integers(0, 4, size=(n, length))]
    starts = rng.integers(0, length - len(motif) + 1, size=n)
    for i in np.flatnonzero(labels):
        rows[i, starts[i] : starts[i] + len(motif)] = motif
    fasta = work / f"planted-{n}x{length}.fa"
    with open(fasta, "wb") as handle:
        for i in range(n):
            handle.write(b">s%d label=%d\n%s\n" % (i, labels[i], rows[i].tobytes()))
    dataset = seqcnn.encode(fasta, folder, header_labels=True, task="binary", overwrite=True)
    fasta.unlink()
    return dataset


def demo_bundle(work: Path, length: int = 200, n_outputs: int = 12) -> Path:
    """A bundle of the demo's shape (``cnn``, 200 bp, 12 sigmoid outputs), seeded weights."""
    import torch

    from seqcnn.bundle import save_model
    from seqcnn.models import build_model, receptive_field

    folder = work / "bundle"
    if (folder / "config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    network = build_model("cnn", input_length=length, n_outputs=n_outputs).eval()
    config = {
        "alphabet": "ACGT",
        "input_length": length,
        "n_encoding": "zeros",
        "task": "multilabel",
        "loss": None,
        "output_names": [f"motif{i}" for i in range(n_outputs)],
        "output_transform": "sigmoid",
        "receptive_field": receptive_field(network),
        "parameters": sum(p.numel() for p in network.parameters()),
    }
    save_model(network, config, folder)
    return folder


def random_codes(n: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, length), dtype=np.uint8)


# ---------------------------------------------------------------- 1. prediction parity


@contextlib.contextmanager
def tf32(allowed: bool):
    """TF32 for cuDNN convolutions and matrix products on or off for a block; yields whether
    the flags could be set (newer torch prefers ``fp32_precision`` and may refuse a mix)."""
    import torch

    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            saved = [flag.allow_tf32 for flag in flags]
            for flag in flags:
                flag.allow_tf32 = allowed
        except (RuntimeError, AttributeError):
            saved = None
    try:
        yield saved is not None
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for flag, value in zip(flags, saved or [], strict=False):
                flag.allow_tf32 = value


def expected_auto(ctx: Context) -> str:
    import torch

    if not ctx.dry_run or torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def check_predict_parity(ctx: Context) -> Outcome:
    import torch

    import seqcnn
    from seqcnn.forward import network_device, pick_device, run_network

    outcome = Outcome()
    bundle = demo_bundle(ctx.work)
    codes = random_codes(ctx.sizes.parity_rows, 200, seed=1)
    cpu_model = seqcnn.load_model(bundle, device="cpu")
    reference = seqcnn.predict(cpu_model, codes, as_frame=False, device="cpu")
    reference_logits = seqcnn.predict(cpu_model, codes, logits=True, as_frame=False)
    model = seqcnn.load_model(bundle, device=ctx.device_name)
    outcome.numbers["rows"] = len(codes)
    outcome.numbers["cudnn.allow_tf32 (default)"] = bool(torch.backends.cudnn.allow_tf32)

    def compare(mode: str, values, logits=None, note: str = "") -> None:
        diff = np.abs(values.astype(np.float64) - reference)
        row = {
            "mode": mode,
            "max abs dp": float(diff.max()),
            "mean abs dp": float(diff.mean()),
            "max abs dlogit": (
                float(np.abs(logits - reference_logits).max()) if logits is not None else None
            ),
            "tolerance": TOLERANCES[mode],
            "ok": bool(diff.max() <= TOLERANCES[mode]),
            "note": note,
        }
        outcome.rows.append(row)
        outcome.require(
            row["ok"], f"{mode}: max abs dp {row['max abs dp']:.2e} > {row['tolerance']}"
        )

    def through_api(**options):
        return seqcnn.predict(model, codes, as_frame=False, device=ctx.device_name, **options)

    with tf32(False) as switched:
        note = "TF32 off" if switched else "TF32 flags could not be set: PyTorch's defaults"
        compare("fp32", through_api(), through_api(logits=True), note)
    compare("default", through_api(), through_api(logits=True), "PyTorch's cuDNN defaults")
    for mode, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        try:
            options = dict(batch_size=256, n_encoding=model.n_encoding, device=ctx.device)
            values = run_network(
                model.network, codes, amp_dtype=dtype, transform="sigmoid", **options
            )
            logits = run_network(model.network, codes, amp_dtype=dtype, transform=None, **options)
        except (RuntimeError, TypeError) as err:  # e.g. no float16 autocast on this CPU
            outcome.rows.append({"mode": mode, "note": f"not run: {str(err).splitlines()[0]}"})
            if not ctx.dry_run:
                outcome.failures.append(f"{mode} autocast failed: {err}")
            continue
        compare(mode, values, logits, "autocast via seqcnn.forward.run_network")

    expected = expected_auto(ctx)
    picked = pick_device("auto").type
    auto_model = seqcnn.load_model(bundle, device="cpu")
    seqcnn.predict(auto_model, codes[:8], as_frame=False, device="auto")
    moved = network_device(auto_model.network).type
    outcome.numbers.update({"pick_device('auto')": picked, "predict(device='auto') ran on": moved})
    outcome.require(picked == expected, f"pick_device('auto') gave {picked}, not {expected}")
    outcome.require(moved == expected, f"predict(device='auto') ran on {moved}, not {expected}")
    worst = max((r for r in outcome.rows if "max abs dp" in r), key=lambda r: r["max abs dp"])
    outcome.headline = (
        f"max abs dp fp32 {outcome.rows[0]['max abs dp']:.1e}; worst {worst['mode']} "
        f"{worst['max abs dp']:.1e}; auto -> {picked}"
    )
    return outcome


# ---------------------------------------------------------------- 2. training throughput


def bare_train(x, y, options, device, amp_dtype, epochs: int, max_batches: int | None = None):
    """Seconds of a plain loop over tensors already on the device (or of ``max_batches``)."""
    import torch

    from seqcnn.forward import autocast
    from seqcnn.models import build_model

    torch.manual_seed(options.seed)
    network = build_model(options.architecture, x.shape[2], y.shape[1], n_train=len(x))
    network = network.to(device)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    criterion = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator(device=device).manual_seed(options.seed)
    network.train()
    sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), device=device, generator=generator)
        for k, start in enumerate(range(0, len(x), options.batch_size)):
            if max_batches is not None and k == max_batches:
                break
            index = order[start : start + options.batch_size]
            if len(index) < 2:  # seqcnn skips these too (batch norm)
                continue
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, amp_dtype):
                loss = criterion(network(x[index]).float(), y[index])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), options.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
    sync(device)
    return time.perf_counter() - started


def check_train_throughput(ctx: Context) -> Outcome:
    import torch

    import seqcnn
    from seqcnn.labels import split_indices
    from seqcnn.training.options import resolve_data_defaults

    outcome = Outcome()
    amp_dtype = amp_dtype_for(ctx.device)
    outcome.numbers["autocast"] = dtype_name(amp_dtype)
    outcome.numbers["seqcnn options"] = "rc_augment, shift 3, validation 2% every epoch"
    outcome.numbers["GPU %"] = "mean nvidia-smi utilisation over each call (train() whole)"
    for case, (architecture, length, n) in ctx.sizes.train_cases.items():
        dataset = planted_dataset(ctx.work, n, length, ctx.seed)
        rows = split_indices(dataset.ids, valid_fraction=0.02, seed=ctx.seed)["train"]
        x = torch.from_numpy(dataset.one_hot(rows)).to(ctx.device)
        labels = np.asarray(dataset.labels[rows], dtype=np.float32).reshape(len(rows), -1)
        y = torch.from_numpy(labels).to(ctx.device)
        for batch in ctx.sizes.train_batches:
            epochs = ctx.sizes.train_epochs
            options = seqcnn.TrainOptions(
                architecture=architecture,
                epochs=epochs,
                batch_size=batch,
                patience=epochs + 1,
                rc_augment=True,
                shift=3,
                valid_fraction=0.02,
                seed=ctx.seed,
                device=ctx.device_name,
                amp=True,
            )
            # What train() fills in from the number of training rows (learning rate...).
            options = resolve_data_defaults(options, len(rows))
            bare_train(x, y, options, ctx.device, amp_dtype, 1, ctx.sizes.warmup_batches)
            bare, ours = [], []
            for repeat in range(ctx.repeats):
                for which in ("bare", "seqcnn") if repeat % 2 == 0 else ("seqcnn", "bare"):
                    start = time.perf_counter()
                    if which == "bare":
                        seconds = bare_train(x, y, options, ctx.device, amp_dtype, epochs)
                    else:
                        out = ctx.work / f"train-{case}-{batch}"
                        result = seqcnn.train(
                            dataset, out, options=options, overwrite=True, progress=False
                        )
                        seconds = float(result.history["seconds"].sum())
                    utilisation = ctx.sampler.mean(start, time.perf_counter())
                    (bare if which == "bare" else ours).append((seconds, utilisation))
            bare_s, bare_util = min(bare, key=first)
            ours_s, ours_util = min(ours, key=first)
            seen = len(rows) * epochs
            ratio = rate(seen, ours_s) / rate(seen, bare_s)
            outcome.rows.append(
                {
                    "case": case,
                    "model": f"{architecture}, {length} bp",
                    "batch": batch,
                    "train rows": len(rows),
                    "epochs": epochs,
                    "bare seq/s": rate(seen, bare_s),
                    "seqcnn seq/s": rate(seen, ours_s),
                    "ratio": ratio,
                    "GPU % bare": bare_util,
                    "GPU % seqcnn": ours_util,
                }
            )
            outcome.goal(f"{case} batch {batch}", ratio, GOAL, enforced=not ctx.dry_run)
            print(f"  train {case} batch {batch}: ratio {ratio:.2f}", file=sys.stderr, flush=True)
        del x, y
    outcome.headline = ", ".join(
        f"{r['case']}/{r['batch']} {r['ratio']:.2f}x" for r in outcome.rows
    )
    return outcome


# -------------------------------------------------------------- 3. prediction throughput


def bare_forward(network, x, batch: int, device) -> float:
    """Seconds of an inference loop over a one-hot tensor on the device (outputs kept there
    and copied back once at the end: the floor)."""
    import torch

    with torch.inference_mode():
        network(x[:batch])  # warm-up for this batch shape
        sync(device)
        started = time.perf_counter()
        outputs = [torch.sigmoid(network(x[a : a + batch])) for a in range(0, len(x), batch)]
        torch.cat(outputs).float().cpu()
    return time.perf_counter() - started


def write_fasta(path: Path, codes: np.ndarray) -> None:
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as handle:
        for start in range(0, len(codes), 10_000):
            text = letters[codes[start : start + 10_000]]
            handle.write(
                b"".join(b">r%d\n%s\n" % (start + i, row.tobytes()) for i, row in enumerate(text))
            )


def check_predict_throughput(ctx: Context) -> Outcome:
    import seqcnn
    from seqcnn.forward import OneHotBatches

    outcome = Outcome()
    bundle = demo_bundle(ctx.work)
    model = seqcnn.load_model(bundle, device=ctx.device_name)
    network = model.network.eval()
    n = ctx.sizes.predict_rows
    codes = random_codes(n, model.input_length, seed=2)
    fasta = ctx.work / "predict.fa"
    write_fasta(fasta, codes)
    x = OneHotBatches(ctx.device, model.n_encoding)(codes)
    outcome.numbers.update({"rows": n, "model": "cnn, 200 bp, 12 outputs (demo shape)"})
    for batch in ctx.sizes.predict_batches:
        # warm-up of seqcnn's path at this batch size
        seqcnn.predict(model, codes[:batch], batch_size=batch, as_frame=False)
        times: dict[str, list[tuple[float, float | None]]] = {"bare": [], "api": [], "file": []}
        for repeat in range(ctx.repeats):
            order = ("bare", "api", "file") if repeat % 2 == 0 else ("file", "api", "bare")
            for which in order:
                start = time.perf_counter()
                if which == "bare":
                    seconds = bare_forward(network, x, batch, ctx.device)
                elif which == "api":
                    seqcnn.predict(
                        model, codes, batch_size=batch, as_frame=False, device=ctx.device_name
                    )
                    seconds = time.perf_counter() - start
                else:
                    out = ctx.work / "predictions.tsv"
                    seqcnn.predict_file(model, fasta, out, batch_size=batch, device=ctx.device_name)
                    seconds = time.perf_counter() - start
                times[which].append((seconds, ctx.sampler.mean(start, time.perf_counter())))
        (bare_s, bare_util), (api_s, api_util), (file_s, file_util) = (
            min(times[k], key=first) for k in ("bare", "api", "file")
        )
        outcome.rows.append(
            {
                "batch": batch,
                "bare seq/s": rate(n, bare_s),
                "predict seq/s": rate(n, api_s),
                "predict ratio": bare_s / api_s,
                "predict_file seq/s": rate(n, file_s),
                "predict_file ratio": bare_s / file_s,
                "GPU % bare": bare_util,
                "GPU % predict": api_util,
                "GPU % predict_file": file_util,
            }
        )
        print(
            f"  predict batch {batch}: ratio {bare_s / api_s:.2f}, file {bare_s / file_s:.2f}",
            file=sys.stderr,
            flush=True,
        )
    best_api = max(outcome.rows, key=lambda r: r["predict seq/s"])
    best_file = max(outcome.rows, key=lambda r: r["predict_file seq/s"])
    enforced = not ctx.dry_run
    outcome.goal(f"predict, batch {best_api['batch']}", best_api["predict ratio"], GOAL, enforced)
    outcome.goal(
        f"predict_file, batch {best_file['batch']}", best_file["predict_file ratio"], GOAL, enforced
    )
    outcome.numbers["best batch size (predict)"] = best_api["batch"]
    outcome.numbers["best batch size (predict_file)"] = best_file["batch"]
    outcome.headline = (
        f"best batch {best_api['batch']}: predict {best_api['predict ratio']:.2f}x; "
        f"predict_file {best_file['predict_file ratio']:.2f}x at {best_file['batch']}"
    )
    return outcome


# ------------------------------------------------------ training subprocesses (4 and 5)


def train_command(data: Path, out: Path, epochs: int, batch: int, device: str, seed: int) -> list:
    """``seqcnn train`` arguments: every epoch runs (patience above the epochs)."""
    options = {"-o": out, "--epochs": epochs, "--batch-size": batch, "--patience": epochs + 1,
               "--seed": seed, "--device": device}  # fmt: skip
    return ["train", str(data), *(str(item) for pair in options.items() for item in pair)]


def run_logged(command: list, log: Path, env: dict, timeout: float) -> float:
    """Run a command to its end, its output into ``log``; seconds taken (error if it fails)."""
    started = time.perf_counter()
    with open(log, "ab") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                              timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        shown = " ".join(command[command.index("train") :][:2] if "train" in command else command)
        raise RuntimeError(f"{shown} ... exited {done.returncode}: {tail}")
    return time.perf_counter() - started


def valid_metrics(bundle: Path) -> dict:
    return json.loads((bundle / "config.json").read_text()).get("metrics", {}).get("valid", {})


# ---------------------------------------------------------------------- 4. several GPUs


def check_multi_gpu(ctx: Context) -> Outcome:
    import torch

    outcome = Outcome()
    if ctx.dry_run and not ctx.ddp_cpu:
        outcome.skipped = "dry run: several GPUs cannot run on the CPU (--ddp-cpu: 2 gloo ranks)"
        return outcome
    n_gpus = torch.cuda.device_count() if not ctx.dry_run else 0
    if not ctx.dry_run and n_gpus < 2:
        outcome.skipped = f"{n_gpus} GPU: DDP needs 2 or more"
        return outcome
    world = n_gpus if n_gpus >= 2 else 2
    device = "cuda" if n_gpus >= 2 else "cpu"
    dataset = planted_dataset(ctx.work, ctx.sizes.ddp_rows, 200, ctx.seed)
    folder = ctx.work / "ddp"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    epochs, batch = ctx.sizes.ddp_epochs, ctx.sizes.ddp_batch
    env = subprocess_env()
    one = train_command(Path(dataset.path), folder / "one", epochs, batch, device, ctx.seed)
    # Each rank takes --batch-size rows per step: the same global batch as the single run.
    multi = train_command(
        Path(dataset.path), folder / "multi", epochs, max(2, batch // world), device, ctx.seed
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += ["--nproc_per_node", str(world), "-m", "seqcnn"]
    single_s = run_logged([sys.executable, "-m", "seqcnn", *one], folder / "one.log", env, 600)
    multi_s = run_logged([*launcher, *multi], folder / "multi.log", env, 600)
    single, several = valid_metrics(folder / "one"), valid_metrics(folder / "multi")
    for name in sorted(set(single) & set(several)):
        outcome.rows.append(
            {"metric": name, "1 process": single[name], f"{world} processes": several[name]}
        )
    difference = abs(single.get("auroc", np.nan) - several.get("auroc", np.nan))
    outcome.numbers.update(
        {
            "processes": world,
            "backend": "nccl" if device == "cuda" else "gloo",
            "rows": ctx.sizes.ddp_rows,
            "epochs": epochs,
            "global batch": batch,
            "seconds 1 process": single_s,
            f"seconds {world} processes": multi_s,
            "valid AUROC difference": difference,
        }
    )
    outcome.numbers["tolerance"] = DDP_AUROC_TOLERANCE
    if ctx.dry_run:  # a few hundred rows: the metrics are noise
        outcome.numbers["tolerance"] = f"{DDP_AUROC_TOLERANCE} (not enforced in a dry run)"
    else:
        outcome.require(
            bool(difference <= DDP_AUROC_TOLERANCE),
            f"validation AUROC differs by {difference:.3f} (> {DDP_AUROC_TOLERANCE})",
        )
    outcome.headline = f"{world} ranks: AUROC diff {difference:.3f}, {single_s / multi_s:.2f}x"
    return outcome


# --------------------------------------------------------------------- 5. resume after kill


def weights_difference(a: Path, b: Path) -> tuple[bool, float, list[str]]:
    """Whether two bundles' weights are bit-identical, the largest difference, the tensors
    that differ."""
    from safetensors.numpy import load_file

    first, second = (
        load_file(str(a / "weights.safetensors")),
        load_file(str(b / "weights.safetensors")),
    )
    if first.keys() != second.keys():
        return False, float("inf"), sorted(set(first) ^ set(second))
    differ = [k for k in first if not np.array_equal(first[k], second[k])]
    largest = max(
        (float(np.abs(first[k].astype(np.float64) - second[k]).max()) for k in differ), default=0.0
    )
    return not differ, largest, differ


def killed_run(command: list, out: Path, log: Path, env: dict, timeout: float) -> int:
    """Start a training run, SIGKILL it as soon as its first checkpoint is written; the
    (0-based) epoch that checkpoint holds."""
    marker = out.parent / f".{out.name}.partial" / "checkpoint.json"
    deadline = time.monotonic() + timeout
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            while not marker.is_file():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the run ended (exit {process.returncode}) before its first checkpoint"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no checkpoint after {timeout:.0f} s")
                time.sleep(0.01)  # polling the file, not waiting for a guessed time
            process.send_signal(signal.SIGKILL)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    return int(json.loads(marker.read_text())["epoch"])


def resume_variant(ctx: Context, variant: str, data: Path) -> dict:
    epochs = ctx.sizes.resume_epochs
    folder = ctx.work / f"resume-{variant}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    deterministic = variant == "deterministic"
    if deterministic:
        env = subprocess_env(CUBLAS_WORKSPACE_CONFIG=":4096:8")
        prefix = [sys.executable, "-c", DETERMINISTIC_LAUNCHER]
    else:
        env, prefix = subprocess_env(), [sys.executable, "-m", "seqcnn"]
    log = folder / "log.txt"

    def command(name: str) -> list:
        return prefix + train_command(data, folder / name, epochs, 64, ctx.device_name, ctx.seed)

    whole_s = run_logged(command("whole"), log, env, 600)
    killed_after = killed_run(command("resumed"), folder / "resumed", log, env, 600)
    resumed_s = run_logged([*command("resumed"), "--resume"], log, env, 600)
    identical, largest, differ = weights_difference(folder / "whole", folder / "resumed")
    row = {
        "variant": variant,
        "deterministic algorithms": "on" if deterministic else "off (seqcnn's default)",
        "killed after epoch": f"{killed_after + 1} of {epochs}",
        "bit-identical": identical,
        "max abs dw": largest,
        "tensors differing": len(differ),
        "seconds (whole run)": whole_s,
        "seconds (resume)": resumed_s,
    }
    if not deterministic and ctx.device.type == "cuda":
        # Does an uninterrupted run repeat itself?  Tells resume apart from GPU nondeterminism.
        run_logged(command("again"), log, env, 600)
        same, repeat_largest, _ = weights_difference(folder / "whole", folder / "again")
        row["repeat run bit-identical"] = same
        row["repeat run max abs dw"] = repeat_largest
    text = log.read_text(errors="replace")
    row["nondeterministic-op warnings"] = text.count("does not have a deterministic")
    row["kill landed before the last epoch"] = killed_after < epochs - 1
    return row


def check_resume(ctx: Context) -> Outcome:
    outcome = Outcome()
    dataset = planted_dataset(ctx.work, ctx.sizes.resume_rows, 200, ctx.seed)
    outcome.numbers.update(
        {"model": "cnn, 200 bp, batch 64", "rows": ctx.sizes.resume_rows,
         "epochs": ctx.sizes.resume_epochs, "kill": "SIGKILL when checkpoint.json appears"}
    )  # fmt: skip
    for variant in ctx.sizes.resume_variants:
        row = resume_variant(ctx, variant, Path(dataset.path))
        outcome.rows.append(row)
        outcome.require(
            row["kill landed before the last epoch"],
            f"{variant}: the kill came after the last epoch, nothing was resumed",
        )
        if variant == "deterministic":
            outcome.require(
                row["bit-identical"],
                f"deterministic resume differs: max abs dw {row['max abs dw']:.2e} in "
                f"{row['tensors differing']} tensors",
            )
    outcome.headline = "; ".join(
        f"{r['variant']}: "
        + ("bit-identical" if r["bit-identical"] else f"max abs dw {r['max abs dw']:.1e}")
        for r in outcome.rows
    )
    return outcome


# --------------------------------------------------------------------------- summary


def machine(device) -> dict:
    import torch

    import seqcnn

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch CUDA": torch.version.cuda,
        "cuDNN": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "seqcnn": seqcnn.__version__,
        "numpy": np.__version__,
        "CPU cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "platform": platform.platform(),
    }
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(git, capture_output=True, text=True, timeout=10).stdout.strip()
        info["commit"] = commit or None
    if torch.cuda.is_available():
        info["GPUs"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16 supported"] = torch.cuda.is_bf16_supported()
        properties = torch.cuda.get_device_properties(device if device.type == "cuda" else 0)
        info["GPU memory GiB"] = round(properties.total_memory / 2**30, 1)
    smi = shutil.which("nvidia-smi")
    if smi:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            info["nvidia-smi"] = subprocess.run(
                [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20,
            ).stdout.strip()  # fmt: skip
    return info


def cell(value) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
        return f"{value:.2e}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return "-" if value is None else str(value).replace("|", "\\|")


def markdown(report: dict) -> str:
    lines = [
        f"# seqcnn GPU check{' (dry run on the CPU)' if report['dry_run'] else ''}",
        "",
        f"Device: {report['device']}; {report['seconds']:.0f} s; "
        f"{'passed' if report['passed'] else 'FAILED'}.",
        "",
        "| check | status | result | seconds |",
        "|---|---|---|---|",
    ]
    for check in report["checks"]:
        result = check.get("headline") or check.get("reason") or ""
        lines.append(
            f"| {check['name']} | {check['status']} | {result} | {check.get('seconds', 0):.1f} |"
        )
    lines += ["", "Machine: " + "; ".join(f"{k} {cell(v)}" for k, v in report["machine"].items())]
    lines += [
        "",
        f"Goals: throughput ratio >= {GOAL} "
        f"({'not enforced in a dry run' if report['dry_run'] else 'enforced'}); "
        f"probability tolerances {', '.join(f'{k} {v:g}' for k, v in TOLERANCES.items())}.",
    ]
    for check in report["checks"]:
        lines += ["", f"## {check['name']}: {check['title']}", "", f"Status: **{check['status']}**"]
        if check.get("reason"):
            lines.append(f"({check['reason']})")
        for key, value in check.get("numbers", {}).items():
            lines.append(f"- {key}: {cell(value)}")
        for goal in check.get("goals", []):
            mark = (
                "met"
                if goal["met"]
                else ("NOT met" if goal["enforced"] else "not met (not enforced)")
            )
            lines.append(f"- goal {goal['what']}: {goal['value']:.3f} >= {goal['goal']}: {mark}")
        rows = check.get("rows", [])
        if rows:
            columns = list(dict.fromkeys(k for row in rows for k in row))
            lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(cell(row.get(k)) for k in columns) + " |" for row in rows]
        if check.get("error"):
            lines += ["", "```", check["error"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, report: dict) -> None:
    (out / "summary.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "summary.md").write_text(markdown(report))


def run_check(name: str, function, ctx: Context) -> dict:
    print(f"[{name}] {CHECKS[name]}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    entry: dict = {"name": name, "title": CHECKS[name]}
    try:
        outcome = function(ctx)
    except Exception as err:  # noqa: BLE001 - a broken check is reported, the others still run
        entry.update(status="fail", reason=f"error: {type(err).__name__}: {err}"[:500])
        entry["error"] = "".join(traceback.format_exc().splitlines(keepends=True)[-15:])
    else:
        unmet = [g["what"] for g in outcome.goals if g["enforced"] and not g["met"]]
        if outcome.skipped:
            status, reason = "skipped", outcome.skipped
        elif outcome.failures or unmet:
            status = "fail"
            reason = "; ".join(outcome.failures + [f"below goal: {w}" for w in unmet])
        else:
            status, reason = "pass", None
        entry.update(status=status, reason=reason, headline=outcome.headline,
                     numbers=outcome.numbers, goals=outcome.goals, rows=outcome.rows)  # fmt: skip
    entry["seconds"] = round(time.perf_counter() - started, 2)
    print(f"[{name}] {entry['status']} ({entry['seconds']:.1f} s) {entry.get('reason') or ''}",
          file=sys.stderr, flush=True)  # fmt: skip
    return entry


FUNCTIONS = {
    "predict_parity": check_predict_parity,
    "train_throughput": check_train_throughput,
    "predict_throughput": check_predict_throughput,
    "multi_gpu": check_multi_gpu,
    "resume": check_resume,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for summary.json and summary.md")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--only", help=f"comma-separated checks of {', '.join(CHECKS)}")
    parser.add_argument("--repeats", type=int, help="alternating timed runs (best kept)")
    parser.add_argument("--work", help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--time-limit", type=float, default=330.0,
                        help="seconds after which no further check starts")  # fmt: skip
    parser.add_argument("--ddp-cpu", action="store_true",
                        help="dry run: run check 4 with 2 gloo processes on the CPU")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(CHECKS)).split(",") if n.strip()]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        parser.error(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:  # before any device time is spent
        print(f"gpu check: missing Python packages {', '.join(missing)}", file=sys.stderr)
        return 2
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda and not args.dry_run else "cpu")
    report = {
        "dry_run": args.dry_run,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "machine": machine(device),
        "tolerances": TOLERANCES,
        "goal": GOAL,
        "seconds": 0.0,
        "passed": False,
        "checks": [],
    }
    if not args.dry_run and not cuda:
        reason = "no CUDA device (torch.cuda.is_available() is False)"
        report["checks"] = [
            {"name": n, "title": CHECKS[n], "status": "skipped", "reason": reason} for n in names
        ]
        write_summary(out, report)
        print(f"gpu check: {reason}; --dry-run runs it on the CPU", file=sys.stderr)
        return 2

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="seqcnn-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        dry_run=args.dry_run,
        device=device,
        sizes=DRY_SIZES if args.dry_run else GPU_SIZES,
        work=work,
        repeats=args.repeats or (1 if args.dry_run else 2),
        seed=args.seed,
        sampler=GpuSampler((device.index or 0) if device.type == "cuda" else None),
        ddp_cpu=args.ddp_cpu,
    )
    try:
        for name in names:
            if time.perf_counter() - started > args.time_limit:
                reason = f"not run: the time limit of {args.time_limit:.0f} s was reached"
                entry = {"name": name, "title": CHECKS[name], "status": "fail", "reason": reason}
            else:
                entry = run_check(name, FUNCTIONS[name], ctx)
            report["checks"].append(entry)
            report["seconds"] = round(time.perf_counter() - started, 1)
            report["passed"] = all(c["status"] != "fail" for c in report["checks"])
            write_summary(out, report)
    finally:
        ctx.sampler.close()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
