"""Benchmark: training throughput of `seqcnn train` against a bare PyTorch loop, same run.

For each case -- a small ``cnn`` on 200 bp and a ``dilated`` network on 1 kb -- it writes a
planted-motif data set (random DNA; the positives, half of the rows, hold one copy of an
AP-1 site; binary labels in the FASTA headers), encodes it with :func:`seqcnn.encode`, and
measures

* **bare**: the same network (:func:`seqcnn.models.build_model`, same options and seed),
  the training rows pre-built as one float32 one-hot tensor and a label tensor in memory,
  AdamW with the same learning rate and weight decay, ``BCEWithLogitsLoss``, the same
  batch size, a shuffled index per epoch, forward/backward/clip/step -- no validation;
* **seqcnn**: `seqcnn.train` end to end through the API: the memory-mapped
  dataset, reverse-complement and shift augmentation, validation metrics after every
  epoch, checkpoints and the final bundle.  Its throughput counts the training rows only
  (the validation split is small) over the ``seconds`` column of ``result.history``, which
  includes validation; the validation time is also measured, so the rate without it is
  shown too.

Both start from a fresh network and optimizer after the same warm-up batches, with torch
pinned to the machine's cores (``--threads`` to compare thread counts) and glibc's
allocator set as seqcnn sets it (:mod:`seqcnn.allocator`; ``SEQCNN_MALLOC=system`` keeps
the default for both).  The two are interleaved epoch by epoch: each seqcnn epoch is
paired with a bare epoch run right after it (after its checkpoint, outside its clock; on
every other repeat the bare epoch runs first), so that both halves of a pair see the
machine in the same state.  This VM's speed drifts by 10-20% over tens of seconds, which
whole runs alternated one after the other did not cancel.  The headline ratio pools every
pair of every repeat (total bare seconds / total seqcnn seconds); the best run of each and
the median of the runs' ratios are printed beside it.
A second table splits one batch: building it the way seqcnn does
(``AugmentedBatches.codes_for`` with augmentation, then ``one_hot``) against one training
step.  Usage::

    python benchmarks/train.py [--scale 1] [--epochs 2] [--repeats 2] [--out bench-out/train]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import time
from pathlib import Path

import numpy as np

#: seqcnn.train must reach this share of the bare loop's sequences per second.
TARGET = 0.97

CASES = {
    # name: architecture, sequence length, sequences at --scale 1: ~20-60 s per measurement
    # of 2 epochs on two idle cores (~15 ms and ~0.5 s per batch of 64)
    "cnn": ("cnn", 200, 40_000),
    "dilated": ("dilated", 1000, 3_000),
}
MOTIF = "TGACTCA"  # AP-1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_data(out: Path, n: int, length: int, seed: int):
    """A binary planted-motif data set as FASTA, encoded into a dataset folder (cached)."""
    from seqcnn.dataset import encode, load_dataset

    folder = out / f"planted-{n}x{length}.ds"
    if (folder / "dataset.json").is_file():
        return load_dataset(folder)
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    motif = np.frombuffer(MOTIF.encode(), dtype=np.uint8)
    labels = rng.random(n) < 0.5
    fasta = out / f"planted-{n}x{length}.fa"
    with open(fasta, "wb") as handle:
        for start in range(0, n, 10_000):
            rows = letters[rng.integers(0, 4, size=(min(10_000, n - start), length))]
            for i, row in enumerate(rows, start):
                if labels[i]:
                    at = rng.integers(0, length - len(motif) + 1)
                    row[at : at + len(motif)] = motif
                handle.write(b">s%d label=%d\n%s\n" % (i, labels[i], row.tobytes()))
    dataset = encode(fasta, folder, header_labels=True, task="binary", overwrite=True)
    fasta.unlink()
    return dataset


@contextlib.contextmanager
def timing(module, names: list[str], after: dict | None = None):
    """Record the wall time of every call to the module-level functions ``names``; then,
    outside that time, call ``after[name]()`` if given."""
    calls: dict[str, list[float]] = {name: [] for name in names}
    originals = {name: getattr(module, name) for name in names}
    after = after or {}

    def timed(name, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                calls[name].append(time.perf_counter() - start)
                if name in after:
                    after[name]()

        return wrapper

    for name, fn in originals.items():
        setattr(module, name, timed(name, fn))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def new_network(options, length: int, n_train: int):
    """The network and optimizer seqcnn's train() starts from (same seed, same init)."""
    import torch

    from seqcnn.models import build_model

    torch.manual_seed(options.seed)
    network = build_model(options.architecture, length, 1, n_train=n_train, **options.model_options)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    return network, optimizer


class BareEpochs:
    """The bare loop over in-memory tensors, one epoch per call, continuing where it was.

    A fresh network and optimizer (as :func:`new_network`), ``BCEWithLogitsLoss``, a
    shuffled index per epoch, forward/backward/clip/step; ``seconds`` has each epoch's time.
    """

    def __init__(self, x, y, options, max_batches: int | None = None):
        import torch

        self.x, self.y, self.options, self.max_batches = x, y, options, max_batches
        self.network, self.optimizer = new_network(options, x.shape[2], len(x))
        self.network.train()
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.generator = torch.Generator().manual_seed(options.seed)
        self.seconds: list[float] = []

    def epoch(self) -> float:
        import torch

        x, y, options, network = self.x, self.y, self.options, self.network
        started = time.perf_counter()
        order = torch.randperm(len(x), generator=self.generator)
        for k, start in enumerate(range(0, len(x), options.batch_size)):
            if self.max_batches is not None and k == self.max_batches:
                break
            index = order[start : start + options.batch_size]
            if len(index) < 2:  # seqcnn skips these too (batch norm)
                continue
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.criterion(network(x[index]), y[index])
            loss.backward()
            if options.grad_clip:
                torch.nn.utils.clip_grad_norm_(network.parameters(), options.grad_clip)
            self.optimizer.step()
        self.seconds.append(time.perf_counter() - started)
        return self.seconds[-1]


def bare_loop(x, y, options, epochs: int, max_batches: int | None = None) -> list[float]:
    """Seconds per epoch of a plain loop over in-memory tensors (or of ``max_batches``)."""
    bare = BareEpochs(x, y, options, max_batches)
    for _ in range(epochs):
        bare.epoch()
    return bare.seconds


def seqcnn_run(dataset, options, out: Path, after_epoch=None) -> dict:
    """seqcnn.train() end to end; epoch, validation and checkpoint seconds.

    ``after_epoch()`` is called after each epoch's checkpoint, outside the epoch's clock.
    """
    import seqcnn
    from seqcnn.training import loop

    after = {"save_checkpoint": after_epoch} if after_epoch is not None else None
    started = time.perf_counter()
    # the epoch loop's own calls: per-epoch validation (not the final one) and checkpoints
    with timing(loop, ["evaluate", "save_checkpoint"], after) as calls:
        result = seqcnn.train(dataset, out, options=options, overwrite=True, progress=False)
    total = time.perf_counter() - started
    return {
        "epochs": len(result.history),
        "seconds": float(result.history["seconds"].sum()),
        "epoch seconds": [float(v) for v in result.history["seconds"]],
        "valid": float(sum(calls["evaluate"])),
        "checkpoint": float(sum(calls["save_checkpoint"])),
        "total": total,
    }


def data_path_seconds(dataset, rows: np.ndarray, options, n_batches: int) -> float:
    """Mean seconds to build one augmented training batch the way seqcnn.train does."""
    import torch

    from seqcnn.training.batches import AugmentedBatches

    batches = AugmentedBatches(
        dataset, dataset.n_encoding, torch.device("cpu"), options.rc_augment, options.shift
    )
    rng = np.random.default_rng([options.seed, 1])
    order = rng.permutation(rows)
    spent, count = 0.0, 0
    for start in range(0, len(order) - options.batch_size + 1, options.batch_size):
        if count == n_batches:
            break
        part = np.sort(order[start : start + options.batch_size])
        started = time.perf_counter()
        batches.one_hot(batches.codes_for(part, rng))
        batches.targets(part, dataset.task)
        spent += time.perf_counter() - started
        count += 1
    return spent / max(count, 1)


def gather_seconds(x, batch_size: int, n_batches: int) -> float:
    """Mean seconds of the bare loop's own batch building (a row gather)."""
    import torch

    order = torch.randperm(len(x))
    started = time.perf_counter()
    for k in range(n_batches):
        x[order[k * batch_size : (k + 1) * batch_size]]
    return (time.perf_counter() - started) / n_batches


def measure(case: str, args, out: Path) -> dict:
    import torch

    from seqcnn.models import summary
    from seqcnn.training import TrainOptions
    from seqcnn.training.data import split_indices_for
    from seqcnn.training.options import resolve_data_defaults

    architecture, length, n = CASES[case]
    n = max(int(n * args.scale), 200)
    dataset = write_data(out, n, length, seed=length)
    options = TrainOptions(
        architecture=architecture,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.epochs + 1,  # run every epoch
        rc_augment=True,
        shift=args.shift,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        device="cpu",
    )
    rows = split_indices_for(dataset, options, need_valid=True)["train"]
    # What train() fills in from the number of training rows (learning rate, patience...).
    options = resolve_data_defaults(options, len(rows))
    n_valid = len(dataset) - len(rows)
    x = torch.from_numpy(dataset.one_hot(rows))
    y = torch.from_numpy(np.asarray(dataset.labels[rows], dtype=np.float32))
    network, _ = new_network(options, length, len(rows))
    params = summary(network)["parameters"]

    # Warm-up: the same shapes through forward/backward/step once the kernels are cached;
    # each timed run then starts from a fresh network and optimizer, as train() does.
    bare_loop(x, y, options, 1, max_batches=args.warmup_batches)

    bare, ours = [], []
    for repeat in range(args.repeats):
        paired = BareEpochs(x, y, options)
        if repeat % 2:  # every other repeat, each pair's bare epoch comes first

            def next_bare(paired=paired):
                if len(paired.seconds) < args.epochs:
                    paired.epoch()

            paired.epoch()
        else:
            next_bare = paired.epoch
        ours.append(seqcnn_run(dataset, options, out / f"model-{case}", after_epoch=next_bare))
        bare.append(sum(paired.seconds))
        run = ours[-1]
        print(
            f"{case} run {repeat + 1}: bare epochs {', '.join(f'{t:.2f}' for t in paired.seconds)}"
            f" s, seqcnn epochs {', '.join(f'{t:.2f}' for t in run['epoch seconds'])} s "
            f"(validation {run['valid']:.2f} s); ratio {bare[-1] / run['seconds']:.3f}",
            flush=True,
        )
    seen = len(rows) * args.epochs
    bare_rate = seen / min(bare)
    best = min(ours, key=lambda run: run["seconds"])
    best_ratio = bare_rate / (seen / best["seconds"])
    # Pooled over the interleaved pairs: drift between repeats weighs on both sides alike.
    ours_s = sum(run["seconds"] for run in ours)
    ratio = sum(bare) / ours_s
    ratio_train = sum(bare) / (ours_s - sum(run["valid"] for run in ours))
    rate = bare_rate * ratio
    rate_train = bare_rate * ratio_train
    median_ratio = float(np.median([b / run["seconds"] for b, run in zip(bare, ours, strict=True)]))

    probe = min(args.probe_batches, len(rows) // args.batch_size)
    data_s = data_path_seconds(dataset, rows, options, probe)
    step_s = min(bare) / (args.epochs * -(-len(rows) // args.batch_size))
    return {
        "case": case,
        "model": f"{architecture}, {length} bp",
        "params": f"{params:,}",
        "batch": args.batch_size,
        "train rows": len(rows),
        "valid rows": n_valid,
        "epochs": args.epochs,
        "bare seq/s": bare_rate,
        "seqcnn seq/s": rate,
        "ratio": ratio,
        "best / best": best_ratio,
        "median ratio": median_ratio,
        "seqcnn seq/s w/o valid": rate_train,
        "ratio w/o valid": ratio_train,
        f">= {TARGET}": "yes" if ratio >= TARGET else "NO",
        # second table
        "data path ms": data_s * 1e3,
        "bare gather ms": gather_seconds(x, args.batch_size, probe) * 1e3,
        "train step ms": step_s * 1e3,
        "data / step %": 100 * data_s / step_s,
        "valid s/epoch": best["valid"] / best["epochs"],
        "checkpoint s/epoch": best["checkpoint"] / best["epochs"],
        "epochs s": best["seconds"],
        "whole train() s": best["total"],
    }


def print_table(rows: list[dict], columns: list[str]) -> None:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(cell(row[k]) for k in columns) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the data set sizes")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="runs of interleaved epochs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shift", type=int, default=3, help="seqcnn's shift augmentation")
    parser.add_argument("--valid-fraction", type=float, default=0.02)
    parser.add_argument("--warmup-batches", type=int, default=10)
    parser.add_argument("--probe-batches", type=int, default=100, help="for the batch split")
    parser.add_argument("--threads", type=int, default=None, help="default: usable cores")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench-out/train", help="scratch folder")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import torch

    from seqcnn.allocator import reuse_freed_memory

    # seqcnn.train sets glibc's allocator to keep freed memory (seqcnn.allocator); the bare
    # loop runs in this process too, so both compute under the same memory behaviour (run
    # with SEQCNN_MALLOC=system for glibc's default in both).
    allocator = "kept freed memory" if reuse_freed_memory() else "the C library's default"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cores)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"machine: {cpu_model()}, {cores} usable cores ({os.cpu_count()} online), "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads, {torch.get_num_interop_threads()} inter-op), "
        f"numpy {np.__version__}; allocator: {allocator}"
    )
    results = [measure(case, args, out) for case in cases]
    end_load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load and end_load:
        print(f"load average (1 min): {load[0]:.2f} at start, {end_load[0]:.2f} at end")
    print()
    print_table(
        results,
        [
            "case",
            "model",
            "params",
            "batch",
            "train rows",
            "valid rows",
            "epochs",
            "bare seq/s",
            "seqcnn seq/s",
            "ratio",
            "best / best",
            "median ratio",
            "seqcnn seq/s w/o valid",
            "ratio w/o valid",
            f">= {TARGET}",
        ],
    )
    print()
    print_table(
        results,
        [
            "case",
            "data path ms",
            "bare gather ms",
            "train step ms",
            "data / step %",
            "valid s/epoch",
            "checkpoint s/epoch",
            "epochs s",
            "whole train() s",
        ],
    )
    print()
    print(
        "bare seq/s: its best run; ratio: all bare epoch seconds / all of seqcnn's, pooled "
        "over the interleaved repeats (seqcnn seq/s = bare seq/s x ratio); best / best: the "
        "best run of each; median ratio: the median of the runs' ratios.  seqcnn's seconds are "
        "the sum of result.history['seconds'] (validation "
        "included); 'w/o valid' subtracts the per-epoch validation.  Checkpoints are written "
        "after each epoch's clock stops; 'whole train()' adds setup, final evaluation and the "
        "bundle.  data path: AugmentedBatches.codes_for (rc + shift) + one_hot + targets per "
        "batch; train step: the bare loop's seconds per batch."
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    missed = [r["case"] for r in results if r["ratio"] < TARGET]
    if missed:
        print(f"below the {TARGET}x target: {', '.join(missed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
