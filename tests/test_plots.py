"""Logos, filter overviews, attribution maps and learning curves render to real, non-blank
images; figures drawn once as pixels become PNGs, tiles and mosaics."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from seqcnn.errors import DataError, UsageError
from seqcnn.motifs import FilterMotif
from seqcnn.plots import (
    OVERVIEW_SCALE,
    draw_attribution_maps,
    draw_filter_logos,
    file_names,
    filter_logo_title,
    mosaic,
    plot_attribution_logo,
    plot_filter_overview,
    plot_learning_curves,
    plot_logo,
    render,
    save_figure,
    write_overview,
    write_png,
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


def test_rendered_pixels_become_a_small_png_with_the_same_image(tmp_path):
    from PIL import Image

    fig, _ = plot_logo(PWM, title="filter_0")
    pixels = render(fig)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    path = write_png(pixels, tmp_path / "logo.png")
    image = Image.open(path)
    assert image.mode == "P" and len(image.getcolors()) <= 64  # 64-colour palette
    assert image.size == (pixels.shape[1], pixels.shape[0])
    assert round(image.info["dpi"][0]) == 150
    assert np.abs(np.asarray(image.convert("RGB"), dtype=int) - pixels).mean() < 2
    assert sorted(os.listdir(tmp_path)) == ["logo.png"]


def test_mosaic_places_tiles_row_by_row_on_white():
    tiles = [np.full((2, 3, 3), k, dtype=np.uint8) for k in range(5)]
    canvas = mosaic(tiles, ncols=2, gap=1)
    assert canvas.shape == (3 * 3 + 1, 2 * 4 + 1, 3)
    assert (canvas[1:3, 1:4] == 0).all() and (canvas[1:3, 5:8] == 1).all()
    assert (canvas[7:9, 1:4] == 4).all() and (canvas[7:9, 5:8] == 255).all()
    with pytest.raises(UsageError, match="no tiles"):
        mosaic([])


def test_filter_logos_are_drawn_once_into_files_tiles_and_overview(tmp_path):
    motifs = [motif(0, PWM), motif(1, PWM[::-1].copy(), n_sites=1234)]
    assert filter_logo_title(motifs[1]) == f"filter_1  {motifs[1].consensus}  n=1,234"
    assert filter_logo_title(motifs[1], "CTCF").endswith("n=1,234  CTCF")
    tiles = draw_filter_logos(motifs, tmp_path / "logos", {"filter_0": "MEF2A"}, ("png", "svg"))
    names = sorted(os.listdir(tmp_path / "logos"))
    assert names == ["filter_0.png", "filter_0.svg", "filter_1.png", "filter_1.svg"]
    full = assert_real_png(tmp_path / "logos" / "filter_0.png")
    assert tiles["filter_0"].shape[0] == round(full.shape[0] * OVERVIEW_SCALE)
    overview = write_overview([tiles["filter_1"], tiles["filter_0"]], tmp_path / "overview.png")
    assert assert_real_png(overview).shape[1] > 2 * tiles["filter_0"].shape[1]


def test_attribution_maps_have_safe_unique_names_and_captions(tmp_path):
    assert file_names(["chr1:10-20", "chr1:10-20", ".hidden", "/"]) == [
        "chr1_10-20", "chr1_10-20_2", "hidden", "_"]  # fmt: skip
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, 30))].transpose(0, 2, 1)
    scores = rng.normal(size=x.shape).astype(np.float32)
    maps = draw_attribution_maps(["a/b", "a/b"], x, scores, tmp_path / "maps", "ism", "CTCF")
    assert [caption for caption, _ in maps] == ["a/b: ism for CTCF"] * 2
    assert [path.name for _, path in maps] == ["a_b.png", "a_b_2.png"]
    for _, path in maps:
        assert_real_png(path)
