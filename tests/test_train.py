import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import (
    TINY_MODEL,
    assert_one_line_error,
    planted_records,
    random_sequences,
    run_seqcnn,
    write_fasta_file,
)
from safetensors.torch import load_file
from sklearn.metrics import average_precision_score, roc_auc_score

from seqcnn.bundle import load_model
from seqcnn.dataset import encode, load_dataset
from seqcnn.errors import DataError, ModelError, UsageError
from seqcnn.predict import predict
from seqcnn.training import TrainOptions, train

FAST = {"model_options": TINY_MODEL, "batch_size": 32, "learning_rate": 3e-3}
MOTIFS = ("TGACTCA", "GATAAGA")  # AP-1, GATA: an untrained network scores near chance on them


def weights(path):
    return load_file(str(path / "weights.safetensors"))


def planted_motifs(present: np.ndarray, length: int, seed: int = 0):
    """Random sequences with ``MOTIFS[k]`` planted where ``present[i, k]``: records."""
    rng = np.random.default_rng(seed)
    records = []
    for i, seq in enumerate(random_sequences(len(present), length, seed=seed)):
        for k in np.flatnonzero(present[i]):
            motif, half = MOTIFS[k], length // 2
            start = int(rng.integers(k * half, (k + 1) * half - len(motif) + 1))
            seq = seq[:start] + motif + seq[start + len(motif) :]
        records.append((f"s{i}", seq))
    return records


def test_binary_learns_and_metrics_match_sklearn(tiny_binary, tmp_path):
    result = train(tiny_binary, tmp_path / "m", epochs=8, patience=8, **FAST)
    history = result.history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert result.metrics["valid"]["auroc"] > 0.9
    # metrics agree with scikit-learn on the same validation rows
    model = load_model(tmp_path / "m")
    from seqcnn.labels import split_indices

    rows = split_indices(tiny_binary.ids, valid_fraction=0.1, seed=0)["valid"]
    with torch.inference_mode():
        logits = model.network(torch.from_numpy(tiny_binary.one_hot(rows))).numpy()[:, 0]
    y = tiny_binary.labels[rows, 0]
    assert result.metrics["valid"]["auroc"] == pytest.approx(roc_auc_score(y, logits), abs=1e-6)
    assert result.metrics["valid"]["auprc"] == pytest.approx(
        average_precision_score(y, logits), abs=1e-6
    )
    for name in ("config.json", "weights.safetensors", "metrics.csv", "learning_curve.png"):
        assert (tmp_path / "m" / name).is_file()
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["task"] == "binary" and config["output_names"] == ["bound"]
    assert config["receptive_field"] > 0 and config["training"]["data_hash"].startswith("sha256")
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_rc_augmented_model_is_evaluated_and_predicts_on_both_strands(tiny_binary, tmp_path):
    result = train(tiny_binary, tmp_path / "m", epochs=3, rc_augment=True, test_fraction=0.2,
                   **FAST)  # fmt: skip
    model = load_model(tmp_path / "m")
    assert model.config["rc_average"] is True
    from seqcnn.labels import split_indices

    rows = split_indices(tiny_binary.ids, valid_fraction=0.1, test_fraction=0.2, seed=0)
    x, y = tiny_binary.one_hot(rows["test"]), tiny_binary.labels[rows["test"], 0]
    both = predict(model, x, as_frame=False)[:, 0]  # the bundle's default: both strands
    np.testing.assert_allclose(both, predict(model, x, rc_average=True, as_frame=False)[:, 0])
    one = predict(model, x, rc_average=False, as_frame=False)[:, 0]
    assert not np.allclose(both, one)
    # the stored test metrics are those of the predictions a user gets
    assert result.metrics["test"]["auroc"] == pytest.approx(roc_auc_score(y, both), abs=1e-6)
    assert result.metrics["test"]["auprc"] == pytest.approx(
        average_precision_score(y, both), abs=1e-6
    )


@pytest.mark.parametrize("task", ["multiclass", "multilabel", "regression"])
def test_each_task_trains(tmp_path, task):
    n = 300
    index = np.arange(n)
    if task == "multiclass":  # class a: no motif, b: the first motif, c: the second
        present = np.stack([index % 3 == 1, index % 3 == 2], axis=1)
        rows = [f"s{i}\t{'abc'[i % 3]}" for i in index]
        header = "id\tclass"
    elif task == "multilabel":  # each motif in a random half, independently
        present = np.random.default_rng(2).random((n, 2)) < 0.5
        rows = [f"s{i}\t{int(a)}\t{int(b)}" for i, (a, b) in enumerate(present)]
        header = "id\tm1\tm2"
    else:  # signal 2 with the motif, 0 without, plus a little noise
        present = np.stack([index % 2 == 1, np.zeros(n, bool)], axis=1)
        rows = [f"s{i}\t{2.0 * p + 0.1 * (i % 5)}" for i, p in enumerate(present[:, 0])]
        header = "id\tsignal"
    fasta = write_fasta_file(tmp_path / "x.fa", planted_motifs(present, 40, seed=2))
    (tmp_path / "t.tsv").write_text(header + "\n" + "\n".join(rows) + "\n")
    ds = encode(fasta, tmp_path / "ds", labels=tmp_path / "t.tsv", task=task)
    options = {**FAST, "batch_size": 16, "learning_rate": 1e-2}
    result = train(ds, None, epochs=6, patience=6, valid_fraction=0.2, **options)
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]
    valid = result.metrics["valid"]
    if task == "multiclass":  # clearly better than always answering the commonest class
        from seqcnn.labels import split_indices

        valid_rows = split_indices(ds.ids, valid_fraction=0.2, seed=0)["valid"]
        majority = np.bincount(ds.labels[valid_rows]).max() / len(valid_rows)
        assert valid["accuracy"] >= majority + 0.25, (valid, majority)
    elif task == "multilabel":  # chance is 0.5
        assert valid["auroc"] >= 0.8, valid
    else:  # the signal is the motif, up to noise of sd ~0.14
        assert valid["pearson"] >= 0.7, valid


def test_poisson_regression_predicts_rates(tmp_path):
    records, labels = planted_records(200, 40, seed=4)
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    (tmp_path / "t.tsv").write_text(
        "id\tcount\n"
        + "".join(f"{r}\t{3 * y + 1}\n" for (r, _), y in zip(records, labels, strict=True))
    )
    ds = encode(fasta, tmp_path / "ds", labels=tmp_path / "t.tsv")
    result = train(ds, tmp_path / "m", epochs=3, loss="poisson", **FAST)
    assert load_model(tmp_path / "m").transform == "exp"
    assert np.isfinite(result.metrics["valid"]["pearson"])


def test_same_seed_same_weights_other_seed_differs(tiny_binary, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train(tiny_binary, tmp_path / name, epochs=2, seed=seed, rc_augment=True, shift=3, **FAST)
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_after_kill_matches_uninterrupted(tiny_binary, tmp_path):
    args = [
        "train",
        tiny_binary.path,
        "--epochs",
        "4",
        "--patience",
        "4",
        "--batch-size",
        "32",
        "--option",
        "first_filters=8",
        "--option",
        "conv_filters=[8]",
        "--option",
        "dense_units=16",
        "--option",
        "first_width=7",
        "--lr",
        "0.003",
        "-q",
    ]
    reference = run_seqcnn(*args, "-o", tmp_path / "ref")
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "run"
    checkpoint = tmp_path / ".run.partial" / "checkpoint.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqcnn", *map(str, args), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill as soon as the first epoch's checkpoint is complete: three epochs remain, so the
    # run cannot finish unnoticed between two looks.  The deadline only bounds a hang.
    deadline = time.monotonic() + 600
    while not checkpoint.exists():
        assert proc.poll() is None, "training ended before it could be interrupted"
        assert time.monotonic() < deadline, "no checkpoint after 10 minutes"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    resumed = run_seqcnn(*args, "-o", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = weights(tmp_path / "ref"), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not checkpoint.parent.exists()


def test_resume_without_checkpoint_is_a_usage_error(tiny_binary, tmp_path):
    result = run_seqcnn("train", tiny_binary.path, "-o", tmp_path / "m", "--resume")
    assert_one_line_error(result, "nothing to resume", code=2)


def test_early_stopping_keeps_best_epoch(tiny_binary, tmp_path):
    result = train(tiny_binary, tmp_path / "m", epochs=15, patience=1, **FAST)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["training"]["epochs_run"] < 15 and config["training"]["stopped_early"]
    best = config["training"]["best_epoch"]
    assert result.history["valid_auprc"].iloc[best - 1] == result.history["valid_auprc"].max()


def test_chromosome_split_and_separate_valid(tmp_path):
    records, labels = planted_records(200, 40)
    records = [(f"chr{i % 4 + 1}:{i * 100}-{i * 100 + 40}", s) for i, (_, s) in enumerate(records)]
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    (tmp_path / "t.tsv").write_text(
        "id\ty\n" + "".join(f"{r}\t{y}\n" for (r, _), y in zip(records, labels, strict=True))
    )
    ds = encode(fasta, tmp_path / "ds", labels=tmp_path / "t.tsv")
    result = train(ds, None, epochs=1, valid_chroms=["chr2"], test_chroms=["chr1"], **FAST)
    assert set(result.metrics) == {"valid", "test"}
    with pytest.raises(DataError, match="no records on chr9"):
        train(ds, None, epochs=1, valid_chroms=["chr9"], **FAST)


def test_train_from_fasta_cli(tmp_path):
    records, labels = planted_records(120, 40)
    pos = write_fasta_file(
        tmp_path / "pos.fa", [r for r, y in zip(records, labels, strict=True) if y]
    )
    neg = write_fasta_file(
        tmp_path / "neg.fa", [r for r, y in zip(records, labels, strict=True) if not y]
    )
    result = run_seqcnn(
        "train",
        pos,
        neg,
        "--class-per-file",
        "-o",
        tmp_path / "m",
        "--epochs",
        "1",
        "--option",
        "first_filters=4",
        "-q",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "model saved to" in result.stdout and "valid:" in result.stdout
    assert load_model(tmp_path / "m").output_names == ["pos"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "neg.fa", "pos.fa"]


def test_bad_training_options(tiny_binary, tmp_path):
    with pytest.raises(UsageError, match="unknown schedule"):
        train(tiny_binary, None, schedule="warp")
    with pytest.raises(UsageError, match="first_filterz"):
        train(tiny_binary, None, model_options={"first_filterz": 3})
    unlabelled = encode(tiny_binary.path / "../tiny.fa", tmp_path / "u")
    with pytest.raises(DataError, match="has no labels"):
        train(unlabelled, None)
    result = run_seqcnn("train", tmp_path / "nope", "-o", tmp_path / "m")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_bundle_round_trip_and_corruption(tiny_binary, tmp_path):
    result = train(tiny_binary, tmp_path / "m", epochs=1, **FAST)
    x = torch.from_numpy(tiny_binary.one_hot(slice(0, 20)))
    with torch.inference_mode():
        before = result.model.network(x)
        after = load_model(tmp_path / "m").network(x)
    assert torch.equal(before, after)
    config = tmp_path / "m" / "config.json"
    text = config.read_text()
    config.write_text(text[:-30])
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(tmp_path / "m")
    config.write_text(text.replace('"first_filters": 8', '"first_filters": 9'))
    with pytest.raises(ModelError, match="do not fit the architecture"):
        load_model(tmp_path / "m")
    config.write_text(text)
    blob = (tmp_path / "m" / "weights.safetensors").read_bytes()
    (tmp_path / "m" / "weights.safetensors").write_bytes(blob[:-8] + b"\0" * 8)
    with pytest.raises(ModelError, match="checksum differs"):
        load_model(tmp_path / "m")
    result = run_seqcnn("describe", tmp_path / "m")
    assert_one_line_error(result, "checksum differs", code=1)


def test_ddp_two_cpu_processes(tiny_binary, tmp_path):
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(29500 + os.getpid() % 1000),
    ]
    args = [
        "-m",
        "seqcnn",
        "train",
        str(tiny_binary.path),
        "-o",
        str(tmp_path / "ddp"),
        "--epochs",
        "8",
        "--patience",
        "8",
        "--batch-size",
        "32",
        "--lr",
        "0.003",
        "-q",
        "--option",
        "first_filters=8",
        "--option",
        "first_width=7",
        "--option",
        "conv_filters=[8]",
        "--option",
        "dense_units=16",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(torchrun + args, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["training"]["world_size"] == 2
    single = train(tiny_binary, None, epochs=8, patience=8, **FAST)
    assert config["metrics"]["valid"]["auroc"] > 0.9
    assert config["metrics"]["valid"]["auroc"] >= single.metrics["valid"]["auroc"] - 0.05


def test_augmentation_is_reverse_complement_and_n_filled_shift(tiny_binary):
    from seqcnn.onehot import codes_to_strings, reverse_complement_codes
    from seqcnn.training.batches import AugmentedBatches

    rows = np.arange(40)
    original = np.asarray(tiny_binary.codes[rows])
    batches = AugmentedBatches(tiny_binary, "zeros", torch.device("cpu"), rc=True, shift=0)
    flipped = batches.codes_for(rows, np.random.default_rng(0))
    same = (flipped == original).all(axis=1)
    assert 0 < same.sum() < 40  # about half the rows are reverse-complemented
    np.testing.assert_array_equal(flipped[~same], reverse_complement_codes(original[~same]))
    np.testing.assert_array_equal(batches.codes_for(rows, None), original)
    batches = AugmentedBatches(tiny_binary, "zeros", torch.device("cpu"), rc=False, shift=3)
    shifted = codes_to_strings(batches.codes_for(rows, np.random.default_rng(1)))
    offsets = set()
    for before, after in zip(codes_to_strings(original), shifted, strict=True):
        padded = "N" * 3 + before + "N" * 3
        offsets.add(next(k for k in range(-3, 4) if padded[3 - k : 63 - k] == after))
    assert len(offsets) > 1  # the rows are shifted by different offsets


@pytest.mark.parametrize("n_encoding", ["zeros", "uniform", "iupac"])
def test_batches_one_hot_is_the_code_table(tiny_binary, n_encoding):
    from seqcnn.alphabet import ONE_HOT_TABLES
    from seqcnn.training.batches import AugmentedBatches

    codes = np.random.default_rng(0).integers(0, 15, size=(5, 60), dtype=np.uint8)
    batches = AugmentedBatches(tiny_binary, n_encoding, torch.device("cpu"), rc=True, shift=3)
    x = batches.one_hot(codes)
    assert x.dtype == torch.float32 and x.shape == (5, 4, 60)
    expected = ONE_HOT_TABLES[n_encoding][codes].transpose(0, 2, 1)
    np.testing.assert_array_equal(x.numpy(), expected)
    y = batches.targets(np.arange(5), "binary")
    assert y.dtype == torch.float32 and y.shape == (5, 1)


def test_loss_follows_the_head_kind():
    from types import SimpleNamespace

    from seqcnn.training.losses import criterion_for

    labels = np.array([[0.0], [1.0], [1.0]])
    cpu = torch.device("cpu")
    options = TrainOptions(pos_weight="balanced")
    loss = criterion_for(SimpleNamespace(head_kind="sequence"), "binary", options, labels, cpu)
    assert isinstance(loss.mean, torch.nn.BCEWithLogitsLoss) and float(loss.mean.pos_weight) == 0.5
    regression = TrainOptions(loss="poisson")
    poisson = criterion_for(object(), "regression", regression, labels, cpu)
    assert isinstance(poisson.mean, torch.nn.PoissonNLLLoss)  # no declared head: a sequence head
    masked = criterion_for(object(), "binary", options, np.array([[0.0], [np.nan], [1.0]]), cpu)
    assert float(masked.mean.pos_weight) == 1.0  # a masked label is neither positive nor negative
    with pytest.raises(UsageError, match="'position'"):
        criterion_for(SimpleNamespace(head_kind="position"), "binary", options, labels, cpu)


def test_masked_labels_train_the_known_targets(tmp_path):
    """encode --missing-labels mask stores NaN; training leaves those entries out of the loss
    (a finite loss and a model), where an unmasked NaN would make every loss NaN."""
    records, labels = planted_records(240, 60, seed=3)
    rng = np.random.default_rng(0)
    lines = ["id\ta\tb"]
    for (rid, _), y in zip(records, labels, strict=True):
        other = "NA" if rng.random() < 0.3 else str(int(rng.random() < 0.5))
        lines.append(f"{rid}\t{y}\t{other}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n")
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    result = run_seqcnn(
        "encode", fasta, "--labels", tmp_path / "labels.tsv", "--missing-labels", "mask",
        "-o", tmp_path / "ds", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ds = load_dataset(tmp_path / "ds")
    assert ds.task == "multilabel" and np.isnan(ds.labels[:, 1]).any()
    result = train(ds, tmp_path / "m", epochs=2, **FAST)
    assert np.isfinite(result.history["train_loss"]).all()
