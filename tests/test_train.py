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
    run_seqcnn,
    write_fasta_file,
)
from safetensors.torch import load_file
from sklearn.metrics import average_precision_score, roc_auc_score

from seqcnn.bundle import load_model
from seqcnn.dataset import encode
from seqcnn.errors import DataError, ModelError, UsageError
from seqcnn.train import train

FAST = {"model_options": TINY_MODEL, "batch_size": 32, "learning_rate": 3e-3}


def weights(path):
    return load_file(str(path / "weights.safetensors"))


def test_binary_learns_and_metrics_match_sklearn(tiny_binary, tmp_path):
    result = train(tiny_binary, tmp_path / "m", epochs=8, patience=8, **FAST)
    history = result.history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert result.metrics["valid"]["auroc"] > 0.9
    # metrics agree with scikit-learn on the same validation rows
    model = load_model(tmp_path / "m")
    from seqcnn.labels import split_indices
    from seqcnn.predict import predict

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
    records, labels = planted_records(300, 40, seed=2)
    fasta = write_fasta_file(tmp_path / "x.fa", records)
    if task == "multiclass":
        values = [["a", "b", "c"][y + (i % 3 == 0)] for i, y in enumerate(labels)]
        rows = [f"{r}\t{v}" for (r, _), v in zip(records, values, strict=True)]
        header = "id\tclass"
    elif task == "multilabel":
        rows = [f"{r}\t{y}\t{1 - y}" for (r, _), y in zip(records, labels, strict=True)]
        header = "id\tm1\tm2"
    else:
        rows = [
            f"{r}\t{y * 2.0 + 0.1 * (i % 5)}"
            for i, ((r, _), y) in enumerate(zip(records, labels, strict=True))
        ]
        header = "id\tsignal"
    (tmp_path / "t.tsv").write_text(header + "\n" + "\n".join(rows) + "\n")
    ds = encode(fasta, tmp_path / "ds", labels=tmp_path / "t.tsv", task=task)
    result = train(ds, None, epochs=6, patience=6, **FAST)
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]
    metric = {"multiclass": "accuracy", "multilabel": "auroc", "regression": "pearson"}[task]
    assert result.metrics["valid"][metric] > 0.5


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
    deadline = time.monotonic() + 120
    while not checkpoint.exists() or json.loads(checkpoint.read_text())["epoch"] < 1:
        assert proc.poll() is None, "training ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
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
    proc = subprocess.run(torchrun + args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["training"]["world_size"] == 2
    single = train(tiny_binary, None, epochs=8, patience=8, **FAST)
    assert config["metrics"]["valid"]["auroc"] > 0.9
    assert config["metrics"]["valid"]["auroc"] >= single.metrics["valid"]["auroc"] - 0.05


def test_augmentation_is_reverse_complement_and_n_filled_shift(tiny_binary):
    from seqcnn.onehot import codes_to_one_hot, codes_to_strings, reverse_complement_codes
    from seqcnn.train import _Batches

    rows = np.arange(40)
    original = np.asarray(tiny_binary.codes[rows])
    batches = _Batches(tiny_binary, "zeros", torch.device("cpu"), rc=True, shift=0)
    flipped = batches.codes_for(rows, np.random.default_rng(0))
    same = (flipped == original).all(axis=1)
    assert 0 < same.sum() < 40  # about half the rows are reverse-complemented
    np.testing.assert_array_equal(flipped[~same], reverse_complement_codes(original[~same]))
    batches = _Batches(tiny_binary, "zeros", torch.device("cpu"), rc=False, shift=3)
    shifted = codes_to_strings(batches.codes_for(rows, np.random.default_rng(1)))
    for before, after in zip(codes_to_strings(original), shifted, strict=True):
        k = next(k for k in range(-3, 4) if ("N" * 3 + before + "N" * 3)[3 - k : 63 - k] == after)
        assert -3 <= k <= 3
    np.testing.assert_array_equal(
        batches.one_hot(original).numpy(), codes_to_one_hot(original, "zeros")
    )
