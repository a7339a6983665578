"""Variant attributions and variants.html: the top variants by |effect|, their maps (checked
against a hand computation on a position-specific linear model, whose saliency and ISM are
its weights), the .npz, the paired logos and the page."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line_error, run_seqcnn
from test_variants import (  # noqa: F401
    CONTIGS,
    LETTERS,
    PositionLinear,
    bundle,
    genome,
    padded,
    write_vcf,
)

from seqcnn.errors import UsageError
from seqcnn.variant_report import (
    TopVariants,
    load_variant_attributions,
    report_paths,
)
from seqcnn.variants import score_variants, score_variants_file

LENGTH = 21


def _rows():
    """SNVs, deletions and insertions on chr1 (VCF-style, Ensembl name), REF from the genome."""
    seq = CONTIGS["chr1"]
    rows = []
    for k, p in enumerate(range(30, 2900, 97)):  # p: 0-based
        base = seq[p]
        if k % 3 == 0:
            rows.append(("1", p + 1, f"v{k}", base, "ACGT"[(LETTERS.index(base) + 1) % 4]))
        elif k % 3 == 1:
            rows.append(("1", p + 1, f"v{k}", seq[p : p + 3], base))  # deletes 2 bases
        else:
            rows.append(("1", p + 1, f"v{k}", base, base + "GA"))  # inserts 2 bases
    return rows


def _one_hot(text: str) -> np.ndarray:
    return np.array([[b == c for b in text] for c in LETTERS], np.float32)


def test_top_variants_keep_the_largest_effects_in_input_order():
    top = TopVariants(3, "d")
    codes = np.arange(7 * 2, dtype=np.uint8).reshape(7, 2)
    effects = [0.1, -0.5, np.nan, 0.5, 0.2, -0.3, 0.5]
    for a, b in ((0, 3), (3, 5), (5, 7)):  # three chunks
        frame = pd.DataFrame({"id": [f"v{i}" for i in range(a, b)], "d": effects[a:b]})
        top.offer(frame, codes[a:b], codes[a:b] + 100, np.ones((b - a, 2), np.int64))
    # |0.5| three times: input order; then 0.3
    assert top.frame["id"].tolist() == ["v1", "v3", "v6"]
    np.testing.assert_array_equal(top.ref, codes[[1, 3, 6]])
    np.testing.assert_array_equal(top.alt, codes[[1, 3, 6]] + 100)
    assert top.seen == 7 and len(top) == 3
    with pytest.raises(UsageError):
        TopVariants(0, "d")


def test_report_paths():
    assert [p.name for p in report_paths("a/effects.csv.gz")] == ["effects.npz", "effects.html"]
    assert [p.name for p in report_paths("x.parquet")] == ["x.npz", "x.html"]


@pytest.mark.parametrize("method", ["saliency", "ism"])
def test_attributions_equal_the_hand_computation(tmp_path, genome, method):  # noqa: F811
    model = PositionLinear(LENGTH, n_outputs=2, seed=3)
    vcf = write_vcf(tmp_path / "v.vcf", _rows())
    out = tmp_path / "effects.tsv"
    stats = score_variants_file(model, vcf, genome, out, batch_size=4, attribution=method,
                                attribution_top=5, target="out1")  # fmt: skip
    arrays, page = report_paths(out)
    assert stats.files == [arrays, page]
    # the 5 largest |out1_diff| of the whole table, in order (chunks of 16 alleles: 2 chunks)
    effects = score_variants(model, vcf, genome)
    expected = effects.iloc[np.argsort(-effects["out1_diff"].abs().to_numpy(), kind="stable")[:5]]
    data = load_variant_attributions(arrays)
    assert data["id"].tolist() == expected["id"].tolist()
    np.testing.assert_array_equal(data["effect"], expected["out1_diff"].to_numpy(np.float32))
    assert data["method"] == method and data["target"] == "out1"
    assert data["effect_column"] == "out1_diff"
    assert (data["offset"] == LENGTH // 2).all()
    w = model.weight.detach().numpy()[1]  # (4, L) weights of out1
    for i, row in enumerate(expected.itertuples()):
        ref, alt = row.ref, row.alt
        kind = (1, 1) if len(ref) == len(alt) else (2, 0) if len(ref) > len(alt) else (0, 2)
        assert tuple(data["changed"][i]) == kind
        assert data["variant"][i] == f"1:{row.pos}:{ref}>{alt} ({row.id})"
        for side in ("ref", "alt"):
            x = data[f"{side}_one_hot"][i]
            assert x.shape == (4, LENGTH) and (x.sum(axis=0) == 1).all()
            scores = data[f"{side}_scores"][i]
            if method == "saliency":  # x * d out / d x = the weight of the base present
                by_hand = w * x
            else:  # f(mutant) - f(x) = w[b, i] - w[base, i]
                by_hand = w - (w * x).sum(axis=0, keepdims=True)
            np.testing.assert_allclose(scores, by_hand, atol=1e-5)
    # the windows are the table's: the genome around the normalised variant's first change
    for i, row in enumerate(expected.itertuples()):
        p = row.norm_pos - (len(row.norm_ref) == len(row.norm_alt))  # 0-based, after an anchor
        window = "".join(LETTERS[c] for c in data["ref_one_hot"][i].argmax(axis=0))
        assert window == padded("chr1", p - LENGTH // 2, p - LENGTH // 2 + LENGTH)


def test_the_page_is_self_contained_and_sortable(tmp_path, genome):  # noqa: F811
    model = PositionLinear(LENGTH, n_outputs=1, seed=1)
    vcf = write_vcf(tmp_path / "v.vcf", _rows())
    out = tmp_path / "effects.tsv.gz"
    score_variants_file(model, vcf, genome, out, attribution="saliency", attribution_top=4)
    text = (tmp_path / "effects.html").read_text()
    assert '<table id="variants" class="filters sortable">' in text
    assert text.count('<img src="data:image/png;base64,') == 4
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # nothing fetched
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 4 and body.count('class="thumb"') == 4
    assert 'data-sort="number"' in text  # the score columns sort as numbers
    assert "out0_diff" in text and "|out0_diff|" in text


def test_attribution_needs_a_file_and_checks_its_outputs_first(tmp_path, genome):  # noqa: F811
    model = PositionLinear(LENGTH)
    vcf = write_vcf(tmp_path / "v.vcf", _rows()[:3])
    with pytest.raises(UsageError, match="beside the table"):
        score_variants_file(model, vcf, genome, None, attribution="ism")
    with pytest.raises(UsageError, match="unknown attribution method"):
        score_variants_file(model, vcf, genome, tmp_path / "e.tsv", attribution="deeplift")
    (tmp_path / "e.html").write_text("old")
    with pytest.raises(UsageError, match="already exists"):
        score_variants_file(model, vcf, genome, tmp_path / "e.tsv", attribution="ism",
                            overwrite=False)  # fmt: skip
    assert not (tmp_path / "e.tsv").exists() and (tmp_path / "e.html").read_text() == "old"
    with pytest.raises(UsageError, match="unknown target"):
        score_variants_file(model, vcf, genome, tmp_path / "e.tsv", attribution="ism",
                            target="nope")  # fmt: skip


def test_variant_logos_mark_the_changed_bases():
    from matplotlib.patches import Rectangle

    from seqcnn.plots import plot_variant_logos

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 4, 30))
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(2, 30))].transpose(0, 2, 1)
    fig = plot_variant_logos(scores[0], scores[1], x[0], x[1], 15, (3, 0), flank=5)
    ref_ax, alt_ax = fig.axes
    assert ref_ax.get_xlim() == (-5.5, 7.5)  # 5 before, the 3 deleted bases, 5 after
    assert ref_ax.get_ylim() == alt_ax.get_ylim()
    marks = [p for p in ref_ax.patches if isinstance(p, Rectangle) and p.get_alpha() == 0.35]
    assert len(marks) == 1 and marks[0].get_width() == pytest.approx(3)
    assert len(alt_ax.lines) >= 1  # the deletion's place in the alternative window
    with pytest.raises(UsageError):
        plot_variant_logos(scores[0], scores[1][:, :10], x[0], x[1], 15)


def test_cli_attribution(tmp_path, genome, bundle):  # noqa: F811
    vcf = write_vcf(tmp_path / "v.vcf", _rows()[:6])
    out = tmp_path / "effects.tsv"
    result = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "-o", out,
                        "--attribution", "ism", "--attribution-top", 2, "--target", 0)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "effects.npz" in result.stderr and "effects.html" in result.stderr
    data = load_variant_attributions(tmp_path / "effects.npz")
    assert len(data["variant"]) == 2 and data["target"] == "bound"
    stdout = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path,
                        "--attribution", "saliency")  # fmt: skip
    assert_one_line_error(stdout, "beside the table", code=2)
    alone = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "--target", "0")
    assert_one_line_error(alone, "go with --attribution", code=2)
