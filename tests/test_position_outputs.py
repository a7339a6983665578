"""Outputs of per-position models (issue 17): predict to arrays and tracks, scan to
base-resolution tracks, attribution targets and the refusals.

The hand-made network ``BaseCode`` outputs, at each output position, the code of the base
there (A=0, C=1, G=2, T=3; track ``t`` times ``t + 1``), so every value written to a file
is known exactly from the sequence.
"""

from __future__ import annotations

import math

import numpy as np
import pybigtools
import pytest
import torch
from conftest import assert_one_line_error, random_sequences, run_seqcnn, write_fasta_file
from torch import nn

from seqcnn.attribution import POSITION_TARGETS, attribution, deep_lift_shap
from seqcnn.bundle import Model, save_model
from seqcnn.errors import DataError, UsageError
from seqcnn.forward import output_transform, run_network
from seqcnn.genome import Genome
from seqcnn.models import build_model, receptive_field
from seqcnn.onehot import one_hot
from seqcnn.position_outputs import predict_positions_file, read_positions
from seqcnn.predict import predict, predict_file
from seqcnn.scan import scan

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


class _Offset:
    def __init__(self, margin: int):
        self.margin = margin

    def output_offset(self, length: int) -> int:
        return self.margin


class BaseCode(nn.Module):
    """Track ``t`` at output position ``j`` = ``(t + 1) *`` the code of input base
    ``margin + j`` (0 for N), plus ``ramp * j`` (which tells the window that wrote it)."""

    head_kind = "position"

    def __init__(self, length: int, margin: int, tracks: int = 1, ramp: float = 0.0):
        super().__init__()
        self.margin, self.tracks, self.ramp = margin, tracks, ramp
        self.conv = nn.Conv1d(4, tracks, 1, bias=False)
        with torch.no_grad():
            codes = torch.arange(4, dtype=torch.float32)
            self.conv.weight[:] = torch.stack([(t + 1) * codes for t in range(tracks)])[..., None]
        self.head = _Offset(margin)
        self.config = {"input_length": length, "n_outputs": tracks,
                       "output_names": [f"track{t}" for t in range(tracks)]}  # fmt: skip

    def output_shape(self, length: int) -> tuple[int, int]:
        return (self.tracks, length - 2 * self.margin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)[..., self.margin : x.shape[-1] - self.margin]
        return y + self.ramp * torch.arange(y.shape[-1], dtype=y.dtype)


def codes_of(sequence: str) -> np.ndarray:
    return np.array([CODE.get(b, 0) for b in sequence], dtype=np.float32)


def bpnet_bundle(folder, length=60, tracks=("plus", "minus")):
    torch.manual_seed(0)
    network = build_model("bpnet", length, len(tracks), first_filters=4, dilated_layers=1,
                          profile_width=5)  # fmt: skip
    config = {"alphabet": "ACGT", "input_length": length, "n_encoding": "zeros",
              "task": "profile", "loss": None, "output_names": list(tracks),
              "output_transform": output_transform("profile"),
              "receptive_field": receptive_field(network), "parameters": 0}  # fmt: skip
    folder.mkdir()
    save_model(network, config, folder)
    return folder, Model(network, config)


# ------------------------------------------------------------------------------ predict


def test_predict_returns_tracks_by_record(tmp_path):
    folder, model = bpnet_bundle(tmp_path / "m")
    seqs = dict(zip(["a", "b", "c"], random_sequences(3, 60, seed=2), strict=True))
    values = predict(model, seqs)
    assert list(values) == ["a", "b", "c"]
    margin = model.network.head.output_offset(60)
    assert values["b"].shape == (2, 60 - 2 * margin)
    codes = np.array([[CODE[b] for b in s] for s in seqs.values()], dtype=np.uint8)
    expected = run_network(model.network, codes, transform="exp")
    np.testing.assert_allclose(values["c"], expected[2], rtol=1e-6)
    np.testing.assert_allclose(predict(model, seqs, as_frame=False), expected, rtol=1e-6)
    logits = predict(model, seqs, logits=True)
    np.testing.assert_allclose(np.exp(logits["a"]), values["a"], rtol=1e-5)
    with pytest.raises(UsageError, match="per-position"):
        predict(model, seqs, per_window=True)


def test_predict_file_npz_and_folder_round_trip(tmp_path):
    _, model = bpnet_bundle(tmp_path / "m")
    seqs = random_sequences(3, 60, seed=3)
    records = {"r0": seqs[0], "short": seqs[1][:50], "long": seqs[2] + "ACGTACGTACG"}
    expected = predict(model, records)
    margin = model.network.head.output_offset(60)
    for out in (tmp_path / "out.npz", tmp_path / "arrays"):
        assert predict_file(model, records, out) == 3
        saved = read_positions(out)
        assert saved.ids == ["r0", "short", "long"]
        assert saved.tracks == ["plus", "minus"]
        assert saved.offsets.tolist() == [margin, margin - 5, margin + 5]
        assert saved.info["task"] == "profile" and saved.info["output_transform"] == "exp"
        for record in records:
            np.testing.assert_array_equal(saved.values[record], expected[record])
    # The folder's values are one (N, T, L_out) array, memory-mapped.
    mapped = np.load(tmp_path / "arrays" / "values.npy", mmap_mode="r")
    assert isinstance(mapped, np.memmap) and mapped.shape == (3, 2, 60 - 2 * margin)
    np.testing.assert_array_equal(mapped[1], expected["short"])
    assert isinstance(read_positions(tmp_path / "arrays").array, np.memmap)


def test_tables_and_bad_ids_are_refused(tmp_path):
    _, model = bpnet_bundle(tmp_path / "m")
    seqs = random_sequences(2, 60, seed=4)
    with pytest.raises(UsageError, match="not a table"):
        predict_file(model, seqs, tmp_path / "out.tsv")
    assert not (tmp_path / "out.tsv").exists()
    with pytest.raises(DataError, match="chrom:start-end"):
        predict_positions_file(model, {"peak1": seqs[0]}, tmp_path / "t.bedgraph")
    with pytest.raises(DataError, match="has 60 bases but its id spans 50"):
        predict_positions_file(model, {"chr1:0-50": seqs[0]}, tmp_path / "t.bedgraph")
    with pytest.raises(DataError, match="clashes"):
        predict_positions_file(model, {"__ids__": seqs[0]}, tmp_path / "t.npz")


def test_predict_tracks_at_genome_coordinates(tmp_path):
    # Windows of 20 bases, 4 cut on each side: outputs [start + 4, start + 16).
    genome = random_sequences(1, 100, seed=5)[0]
    network = BaseCode(20, 4, tracks=2)
    records = {f"chr2:{s}-{s + 20}": genome[s : s + 20] for s in (10, 20, 60)}
    records["chr2:0-14"] = genome[0:14]  # off the contig's start: padded with 3 N on the left
    out = predict_positions_file(network, records, tmp_path / "pred.bw", transform=False)
    assert out == tmp_path / "pred.bw"
    code = codes_of(genome)
    for track in range(2):
        reader = pybigtools.open(str(tmp_path / f"pred.track{track}.bw"))
        assert reader.chroms() == {"chr2": 80}  # as far as the furthest window
        values = reader.values("chr2", 0, 80, fillna=np.nan)
        covered = np.zeros(80, bool)
        # chr2:0-14 (offset 4 - 3) has outputs for record bases 1..12 = genome 1..12; 10-30
        # and 20-40 overlap (outputs 14..25, 24..35): each base takes the nearest centre.
        for a, b in ((1, 13), (14, 36), (64, 76)):
            covered[a:b] = True
        np.testing.assert_array_equal(values[covered], (track + 1) * code[:80][covered])
        assert np.isnan(values[~covered]).all()
        reader.close()
    # bedGraph: the same values, runs of equal values as one line.
    predict_positions_file(network, records, tmp_path / "pred.bedgraph.gz", transform=False)
    import gzip

    lines = gzip.open(tmp_path / "pred.track0.bedgraph.gz", "rt").read().splitlines()
    rebuilt = np.full(80, np.nan)
    for line in lines:
        chrom, a, b, v = line.split("\t")
        assert chrom == "chr2"
        rebuilt[int(a) : int(b)] = float(v)
    np.testing.assert_array_equal(np.isnan(rebuilt), np.isnan(values))
    np.testing.assert_array_equal(rebuilt[covered], code[:80][covered])
    assert len(lines) < covered.sum()  # runs merged
    # Which window writes where two overlap: outputs 14..25 and 24..35, centres 20 and 30;
    # bases 14..24 from the first (columns 0..10), 25..35 from the second (columns 1..11).
    ramp = BaseCode(20, 4, ramp=100.0)
    predict_positions_file(ramp, records, tmp_path / "ramp.bw", transform=False)
    with pybigtools.open(str(tmp_path / "ramp.bw")) as reader:
        columns = reader.values("chr2", 14, 36, fillna=np.nan) // 100
    np.testing.assert_array_equal(columns, [*range(0, 11), *range(1, 12)])


# ------------------------------------------------------------------------------ scan


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    one = random_sequences(1, 200, seed=7)[0]
    folder = tmp_path_factory.mktemp("genome")
    return Genome(write_fasta_file(folder / "ref.fa", [("chr1", one)]))


@pytest.mark.parametrize("stride", [None, 5, 1])
def test_scan_writes_every_base_of_a_position_model(tmp_path, genome, stride):
    network = BaseCode(20, 4, tracks=2)  # outputs of 12 bases
    result = scan(network, genome, tmp_path / "s.bw", stride=stride, logits=True, batch_size=3)
    code = codes_of(genome.fetch("chr1", 0, 200))
    step = stride or 12
    # The grid [k S, k S + 20); values from (20 - S) // 2 on, S bases per window.
    first = (20 - step) // 2
    last = ((200 - 20) // step) * step + first + step
    for track, path in enumerate(result.paths):
        reader = pybigtools.open(str(path))
        values = reader.values("chr1", 0, 200, fillna=np.nan)
        np.testing.assert_array_equal(values[first:last], (track + 1) * code[first:last])
        assert np.isnan(values[:first]).all() and np.isnan(values[last:]).all()
        reader.close()
    assert result.windows == (200 - 20) // step + 1


def test_scan_of_a_position_model_refuses_tables_and_long_strides(tmp_path, genome):
    network = BaseCode(20, 4)
    with pytest.raises(UsageError, match="base-resolution tracks"):
        scan(network, genome, tmp_path / "s.tsv")
    with pytest.raises(UsageError, match="output length \\(12\\)"):
        scan(network, genome, tmp_path / "s.bw", stride=13)


def test_scan_parts_gather_into_the_whole(tmp_path, genome):
    network = BaseCode(20, 4)
    whole = scan(network, genome, tmp_path / "whole.bedgraph", stride=6, batch_size=2)
    from seqcnn.tracks import gather_tracks

    parts = [scan(network, genome, tmp_path / f"p{k}.bedgraph", stride=6, batch_size=2,
                  part=(k, 3)).paths[0] for k in (1, 2, 3)]  # fmt: skip
    gather_tracks(parts, tmp_path / "gathered.bedgraph")
    assert (tmp_path / "gathered.bedgraph").read_text() == whole.paths[0].read_text()


# ------------------------------------------------------------------------------ attribution


def test_position_targets_by_hand():
    # A bpnet-like head by hand: the network's output is y (log-rates), here BaseCode's.
    network = BaseCode(12, 2)  # 8 outputs
    seq = "ACGTTGCAACGT"
    x = torch.from_numpy(one_hot([seq]))
    y = codes_of(seq)[2:10].astype(np.float64)
    from seqcnn.position_targets import PositionTarget

    def target(mode, window=None):
        with torch.no_grad():
            return float(PositionTarget(network, mode, window)(x)[0, 0])

    assert target("sum") == pytest.approx(y.sum())
    assert target("counts") == pytest.approx(math.log(np.exp(y).sum()), 1e-6)
    weights = np.exp(y) / np.exp(y).sum()
    assert target("profile") == pytest.approx(float((weights * (y - y.mean())).sum()), 1e-6)
    assert target("sum", window=(2, 5)) == pytest.approx(y[2:5].sum())
    # Saliency of the sum: each output base's code, at its own input base; edges 0.
    scores = attribution(network, x.detach().numpy(), method="saliency", position_target="sum")
    expected = np.zeros(12)
    expected[2:10] = y
    np.testing.assert_allclose(scores.sum(axis=1)[0], expected, atol=1e-6)
    # Saliency of the profile: the softmax weights are constants, so base j gets
    # y_j * (w_j - 1 / L_out).
    scores = attribution(network, x.detach().numpy(), method="saliency",
                         position_target="profile")  # fmt: skip
    expected[2:10] = y * (weights - 1 / 8)
    np.testing.assert_allclose(scores.sum(axis=1)[0], expected, atol=1e-6)


def test_bpnet_counts_target_is_its_counts_head():
    torch.manual_seed(0)
    network = build_model("bpnet", 60, 2, first_filters=4, dilated_layers=1, profile_width=5)
    x = torch.from_numpy(one_hot(random_sequences(3, 60, seed=8)))
    from seqcnn.position_targets import PositionTarget

    with torch.no_grad():
        counts = network.head.counts(network.embed(x).mean(dim=-1))
        total = torch.logsumexp(network(x), dim=-1)
        np.testing.assert_allclose(PositionTarget(network, "counts")(x), counts, rtol=1e-5)
        np.testing.assert_allclose(total, counts, rtol=1e-4)
        # BPNet's profile target: the softmax-weighted sum of the centred profile logits.
        logits = network.head.profile(network.embed(x))
        centred = logits - logits.mean(dim=-1, keepdim=True)
        expected = (torch.softmax(logits, -1) * centred).sum(-1)
        np.testing.assert_allclose(PositionTarget(network, "profile")(x), expected, rtol=1e-5)


@pytest.mark.parametrize("target", POSITION_TARGETS)
@pytest.mark.parametrize("architecture", ["bpnet", "unet"])
def test_deeplift_converges_on_position_models(architecture, target):
    torch.manual_seed(0)
    if architecture == "bpnet":
        network = build_model("bpnet", 60, 2, first_filters=4, dilated_layers=2, profile_width=5)
    else:
        network = build_model("unet", 60, 2, first_filters=4, bottleneck_filters=4,
                              encoder_filters=[4, 4])  # fmt: skip
        with torch.no_grad():  # untrained, its outputs barely move: give them some range
            for p in network.parameters():
                p.mul_(100**0.25 if p.ndim > 1 else 1)
    x = one_hot(random_sequences(3, 60, seed=9))
    result = deep_lift_shap(network, x, target=1, position_target=target, n_shuffles=4)
    assert result.convergence.converged, result.convergence.summary()
    assert np.abs(result.attributions).sum() > 0


def test_position_target_refusals():
    network = BaseCode(12, 2)
    x = one_hot(["ACGTTGCAACGT"])
    with pytest.raises(UsageError, match="leave transform unset"):
        attribution(network, x, transform="exp")
    with pytest.raises(UsageError, match="unknown position target"):
        attribution(network, x, position_target="peak")
    with pytest.raises(UsageError, match="not inside"):
        attribution(network, x, position_window=(4, 9))
    with pytest.raises(UsageError, match="one value per sequence"):
        attribution(build_model("cnn", 40, 1), one_hot(["A" * 40]), position_target="counts")


# ------------------------------------------------------------------------------ command line


def test_cli_predict_and_scan_a_position_model(tmp_path):
    folder, model = bpnet_bundle(tmp_path / "m")
    seqs = random_sequences(2, 60, seed=10)
    fasta = write_fasta_file(
        tmp_path / "in.fa", [("chr1:0-60", seqs[0]), ("chr1:100-160", seqs[1])]
    )
    result = run_seqcnn("predict", fasta, "-m", folder, "-o", tmp_path / "out.npz")
    assert result.returncode == 0, result.stderr
    saved = read_positions(tmp_path / "out.npz")
    np.testing.assert_allclose(saved.values["chr1:100-160"], predict(model, {"x": seqs[1]})["x"],
                               rtol=1e-5)  # fmt: skip
    result = run_seqcnn("predict", fasta, "-m", folder, "-o", tmp_path / "out.bw")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.plus.bw").exists() and (tmp_path / "out.minus.bw").exists()
    result = run_seqcnn("predict", fasta, "-m", folder, "-o", tmp_path / "out.tsv")
    assert_one_line_error(result, "out.npz", code=2)
    genome = write_fasta_file(tmp_path / "g.fa", [("chr1", random_sequences(1, 300, 11)[0])])
    result = run_seqcnn("scan", "-m", folder, "--genome", genome, "--target", "plus",
                        "-o", tmp_path / "s.bedgraph")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "s.bedgraph").read_text().splitlines()) > 100  # one line a base


def test_position_target_names_are_the_reductions():
    from seqcnn import position_targets

    network = BaseCode(12, 2)
    for mode in POSITION_TARGETS:  # the command line's list: each one a reduction
        assert position_targets.PositionTarget(network, mode).mode == mode
    assert position_targets.default_target("profile") == "counts"
    assert position_targets.default_target("segmentation") == "sum"
