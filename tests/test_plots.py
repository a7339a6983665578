"""Logos, filter overviews and learning curves render to real, non-blank images."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from seqcnn.errors import DataError, UsageError
from seqcnn.motifs import FilterMotif
from seqcnn.plots import (
    plot_attribution_logo,
    plot_filter_overview,
    plot_learning_curves,
    plot_logo,
    save_figure,
)

PWM = np.array(
    [
        [0.25, 0.25, 0.25, 0.25],
        [0.97, 0.01, 0.01, 0.01],
        [0.01, 0.01, 0.97, 0.01],
        [0.1, 0.6, 0.2, 0.1],
        [0.01, 0.01, 0.01, 0.97],
    ]
)


def assert_real_png(path, min_bytes: int = 2000) -> np.ndarray:
    from matplotlib.image import imread

    assert path.stat().st_size > min_bytes
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels[..., :3].var() > 1e-3  # not a blank canvas
    return pixels


def coloured_fraction(pixels: np.ndarray) -> float:
    """Fraction of clearly coloured (not grey) pixels: the letters of a logo."""
    rgb = pixels[..., :3]
    return float(((rgb.max(axis=2) - rgb.min(axis=2)) > 0.3).mean())


def motif(index: int, pwm: np.ndarray, n_sites: int = 50) -> FilterMotif:
    return FilterMotif(index, f"filter_{index}", pwm * n_sites, n_sites, pwm, 3.0, True)


def test_logo_in_bits_renders(tmp_path):
    fig, ax = plot_logo(PWM, title="filter_0")
    assert ax.get_ylim() == (0.0, 2.0)
    assert ax.get_ylabel() == "bits" and ax.get_title() == "filter_0"
    assert len(ax.patches) >= 4 * len(PWM) - 4  # one glyph per letter and position
    (path,) = save_figure(fig, tmp_path / "logo.png")
    assert coloured_fraction(assert_real_png(path)) > 0.01
    # The uniform first position has no height: its glyphs are flat.
    first = [p for p in ax.patches if p.get_extents().x0 < ax.transData.transform((0.5, 0))[0]]
    assert all(p.get_extents().height < 2 for p in first)


def test_logo_accepts_4_by_w_and_probability_scale():
    fig, ax = plot_logo(PWM.T, ic_scale=False)
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_ylabel() == "probability"
    from matplotlib.figure import Figure

    other = Figure()
    axes = other.add_subplot()
    fig2, ax2 = plot_logo(PWM, ax=axes)
    assert fig2 is other and ax2 is axes
    with pytest.raises(UsageError):
        plot_logo(np.ones((5, 3)))


def test_attribution_logo_has_signed_heights_and_sequence_coordinates(tmp_path):
    rng = np.random.default_rng(0)
    attr = rng.normal(size=(4, 30))
    fig, ax = plot_attribution_logo(attr, start=100, title="seq1")
    low, high = ax.get_ylim()
    assert low < 0 < high
    assert ax.get_xlim() == (99.5, 129.5)
    (path,) = save_figure(fig, tmp_path / "attr.png")
    assert_real_png(path)
    # With a sequence, only its bases are drawn: scores at N positions vanish.
    sequence = "ACGTN" * 6
    fig, ax = plot_attribution_logo(attr.T, sequence=sequence)
    with_sequence = attr.T * (np.array(list(sequence))[:, None] == np.array(list("ACGT")))
    low, high = ax.get_ylim()
    assert high < attr.clip(min=0).sum(axis=0).max()  # fewer letters stacked
    assert high >= with_sequence.max()
    with pytest.raises(UsageError, match="positions"):
        plot_attribution_logo(attr, sequence="ACGT")


def test_filter_overview_orders_by_information_and_titles_matches(tmp_path):
    weak = 0.5 * PWM + 0.125
    motifs = [motif(0, weak), motif(1, PWM, n_sites=80), motif(2, np.full((5, 4), 0.25), 3)]
    matches = pd.DataFrame(
        {"filter": ["filter_1", "filter_1"], "rank": [1, 2], "match_id": ["MA1.1", "MA2.1"],
         "match_name": ["GATA1", "TAL1"], "p_value": [1e-8, 1e-5]}
    )  # fmt: skip
    fig = plot_filter_overview(motifs, tmp_path / "overview.png", ncols=2, matches=matches)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("1 ") and "n=80" in titles[0] and titles[0].endswith("GATA1")
    assert titles[1].startswith("0 ") and titles[2].startswith("2 nnnnn")
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # the spare panel is hidden
    assert_real_png(tmp_path / "overview.png")

    fig = plot_filter_overview(motifs, order=[2, 0])
    assert [ax.get_title().split()[0] for ax in fig.axes if ax.get_title()] == ["2", "0"]
    with pytest.raises(UsageError):
        plot_filter_overview(motifs, order=[7])


def test_learning_curves_from_the_training_log(tmp_path):
    log = pd.DataFrame(
        {"epoch": [1, 2, 3, 4], "train_loss": [0.7, 0.5, 0.4, 0.3],
         "valid_loss": [0.72, 0.6, 0.55, 0.58], "valid_auroc": [0.6, 0.7, 0.75, 0.74],
         "valid_auprc": [0.5, 0.55, 0.6, 0.6], "lr": [1e-3, 1e-3, 5e-4, 5e-4]}
    )  # fmt: skip
    csv = tmp_path / "metrics.csv"
    log.to_csv(csv, index=False)
    fig = plot_learning_curves(csv)
    loss_ax, metric_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()][:2] == ["train_loss", "valid_loss"]
    assert [line.get_label() for line in metric_ax.get_lines()][:2] == [
        "valid_auroc",
        "valid_auprc",
    ]
    assert "lr" not in {line.get_label() for line in metric_ax.get_lines()}
    np.testing.assert_allclose(loss_ax.get_lines()[1].get_ydata(), log["valid_loss"])
    best = loss_ax.get_lines()[-1]
    assert best.get_label() == "best epoch" and best.get_xdata()[0] == 3
    (path,) = save_figure(fig, tmp_path / "curves.png")
    assert_real_png(path)


def test_learning_curves_long_format_and_bad_tables(tmp_path):
    long = pd.DataFrame(
        {"epoch": [1, 1, 2, 2], "split": ["train", "valid"] * 2, "loss": [0.7, 0.8, 0.5, 0.6],
         "accuracy": [0.5, 0.55, 0.7, 0.66]}
    )  # fmt: skip
    fig = plot_learning_curves(long)
    labels = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert {"train_loss", "valid_loss", "train_accuracy", "valid_accuracy"} <= labels
    only_loss = plot_learning_curves(pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5]}))
    assert len(only_loss.axes) == 1
    with pytest.raises(DataError, match="epoch"):
        plot_learning_curves(pd.DataFrame({"loss": [1.0]}))
    with pytest.raises(DataError):
        plot_learning_curves(tmp_path / "missing.csv")


def test_save_figure_formats_are_atomic(tmp_path):
    fig, _ = plot_logo(PWM)
    paths = save_figure(fig, tmp_path / "logo", formats=("png", "svg", "pdf"))
    assert [p.name for p in paths] == ["logo.png", "logo.svg", "logo.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in paths[1].read_bytes()[:1000]
    assert paths[2].read_bytes()[:4] == b"%PDF"
    (svg,) = save_figure(fig, tmp_path / "again.svg")
    assert svg.name == "again.svg" and b"<svg" in svg.read_bytes()[:1000]
    assert sorted(os.listdir(tmp_path)) == ["again.svg", "logo.pdf", "logo.png", "logo.svg"]
    with pytest.raises(UsageError, match="gif"):
        save_figure(fig, tmp_path / "x", formats=("gif",))
    with pytest.raises(UsageError, match="folder"):
        save_figure(fig, tmp_path / "missing" / "x.png")
