"""Variant effects: VCF reading, REF check, normalisation, windows, scores, tables, CLI.

Every score is checked against a hand computation: the windows are rebuilt here from the
genome string by the documented rule, and run through hand-made models whose outputs are
computed in numpy (a position-specific linear model, a known-motif counter).  The shared
chr20 files (``../shared/data``) are used when present.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_one_line_error, run_seqcnn, write_fasta_file

from seqcnn.alleles import REF_MISMATCH, VARIANT_COLUMNS, variant_codes
from seqcnn.errors import DataError, UsageError
from seqcnn.genome import Genome
from seqcnn.variants import (
    effect_columns,
    effect_scores,
    score_variants,
    score_variants_file,
)
from seqcnn.vcf import Alleles, VariantReader, allele_problem

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VARIANTS = SHARED / "variants"
HG19 = SHARED / "genome" / "hg19_chr20.fa.gz"
LETTERS = "ACGT"
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


# ------------------------------------------------------------------------------ fixtures


def _contigs() -> dict[str, str]:
    rng = random.Random(7)
    chr1 = [rng.choice(LETTERS) for _ in range(3000)]
    chr1[999:1011] = "GACACACACACG"  # a dinucleotide repeat: indels that shift
    chr1[2000:2009] = "TAAAAAAAC"  # a homopolymer
    chr1[1500:1507] = "GATTACA"  # the motif of the motif counter
    return {"chr1": "".join(chr1), "chr2": "".join(rng.choice(LETTERS) for _ in range(400))}


CONTIGS = _contigs()


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> Genome:
    folder = tmp_path_factory.mktemp("genome")
    path = write_fasta_file(folder / "ref.fa", CONTIGS.items(), width=60)
    return Genome(path)


VCF_HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=3000>\n##contig=<ID=2,length=400>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def write_vcf(path: Path, rows, compress: str | None = None, header: str = VCF_HEADER) -> Path:
    """``rows``: (chrom, pos, id, ref, alt) as VCF text."""
    text = header + "".join("\t".join(map(str, r)) + "\t.\t.\t.\n" for r in rows)
    if compress == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    elif compress == "bgzip":
        from Bio import bgzf

        with bgzf.BgzfWriter(str(path), "wb") as handle:
            handle.write(text.encode())
    else:
        path.write_text(text)
    return path


class PositionLinear(torch.nn.Module):
    """out[t] = bias[t] + sum_i W[t, base_i, i]: every base of a window counts, each by its
    own weight, so any window one base off gives other scores."""

    def __init__(self, length: int, n_outputs: int = 2, transform: str = "sigmoid", seed=0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(torch.randn(n_outputs, 4, length, generator=generator))
        self.bias = torch.nn.Parameter(torch.randn(n_outputs, generator=generator))
        self.config = {"input_length": length, "n_outputs": n_outputs,
                       "output_transform": transform,
                       "output_names": [f"out{t}" for t in range(n_outputs)]}  # fmt: skip

    def forward(self, x):
        return torch.einsum("tcl,bcl->bt", self.weight, x) + self.bias

    def by_hand(self, window: str) -> np.ndarray:
        w = self.weight.detach().double().numpy()
        total = self.bias.detach().double().numpy().copy()
        for i, base in enumerate(window):
            if base in LETTERS:
                total += w[:, LETTERS.index(base), i]
        return total


class MotifCounter(torch.nn.Module):
    """A known-motif scanner: the most bases of GATTACA matched by any 7-mer of the window,
    as the log of a rate (exp transform)."""

    motif = "GATTACA"

    def __init__(self, length: int):
        super().__init__()
        weight = torch.zeros(1, 4, len(self.motif))
        for k, base in enumerate(self.motif):
            weight[0, LETTERS.index(base), k] = 1.0
        self.conv = torch.nn.Conv1d(4, 1, len(self.motif), bias=False)
        self.conv.weight.data = weight
        self.config = {"input_length": length, "n_outputs": 1, "output_transform": "exp",
                       "output_names": ["gattaca"]}  # fmt: skip

    def forward(self, x):
        return self.conv(x).amax(dim=-1)

    def by_hand(self, window: str) -> float:
        k = len(self.motif)
        return max(
            sum(a == b for a, b in zip(window[i : i + k], self.motif, strict=True))
            for i in range(len(window) - k + 1)
        )


def padded(contig: str, start: int, end: int) -> str:
    seq = CONTIGS[contig]
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, end))


def windows_by_hand(contig: str, p: int, deleted: str, inserted: str, length: int):
    """The documented convention, restated: the first changed base at index L // 2; the
    alternative window is the same left flank, the inserted bases, then the genome after
    the deleted ones, cut at L."""
    c = length // 2
    ref = padded(contig, p - c, p - c + length)
    alt = padded(contig, p - c, p) + inserted + padded(contig, p + len(deleted), p + length)
    return ref, alt[:length]


def codes_text(codes: np.ndarray) -> str:
    return "".join("ACGTN"[c] for c in codes)


def alleles(*rows) -> Alleles:
    chunk = Alleles()
    for chrom, pos, ref, alt in rows:
        chunk.append(chrom, pos, ".", ref, alt)
    return chunk


# ------------------------------------------------------------------------------ windows


@pytest.mark.parametrize("length", [10, 11, 1])
def test_snv_windows_are_centred_exactly(genome, length):
    pos = 200  # 1-based
    base = CONTIGS["chr1"][pos - 1]
    alt = "A" if base != "A" else "C"
    codes = variant_codes(alleles(("chr1", pos, base, alt)), genome, length)
    ref, alt_window = codes_text(codes.ref[0]), codes_text(codes.alt[0])
    c = length // 2
    assert ref[c] == base and alt_window[c] == alt
    assert ref == padded("chr1", pos - 1 - c, pos - 1 - c + length)
    assert ref[:c] + ref[c + 1 :] == alt_window[:c] + alt_window[c + 1 :]
    assert codes.columns["ref_match"] == ["match"]


@pytest.mark.parametrize("length", [11, 12])
def test_indel_windows_follow_the_convention(genome, length):
    seq = CONTIGS["chr1"]
    # a place where none of these indels can shift left (VCF pos p: anchor base p - 1)
    p = next(q for q in range(300, 400) if seq[q - 1] not in "GT" and seq[q - 1] != seq[q + 2])
    deletion = ("chr1", p, seq[p - 1 : p + 3], seq[p - 1])  # 3 bases deleted
    insertion = ("chr1", p, seq[p - 1], seq[p - 1] + "GG")
    long_insertion = ("chr1", p, seq[p - 1], seq[p - 1] + "T" * 20)  # longer than L - c: cut
    mnp_alt = "".join("A" if b != "A" else "C" for b in seq[p - 1 : p + 1])
    mnp = ("chr1", p, seq[p - 1 : p + 1], mnp_alt)
    codes = variant_codes(alleles(deletion, insertion, long_insertion, mnp), genome, length)
    # (first changed 0-based base, deleted, inserted): an indel's first change is after its
    # anchor base, at 0-based p
    cases = [(p, seq[p : p + 3], ""), (p, "", "GG"), (p, "", "T" * 20),
             (p - 1, seq[p - 1 : p + 1], mnp_alt)]  # fmt: skip
    for k, (start, deleted, inserted) in enumerate(cases):
        ref, alt = windows_by_hand("chr1", start, deleted, inserted, length)
        assert codes_text(codes.ref[k]) == ref, k
        assert codes_text(codes.alt[k]) == alt, k
    c = length // 2
    assert codes_text(codes.alt[2])[c:] == "T" * (length - c)


def test_windows_off_the_contig_ends_are_n(genome):
    seq = CONTIGS["chr2"]
    first = ("chr2", 1, seq[0], "A" if seq[0] != "A" else "C")
    inserted = "GC" if seq[-1] != "C" else "GA"  # after the last base: it cannot shift
    last = ("chr2", len(seq), seq[-1], seq[-1] + inserted)
    codes = variant_codes(alleles(first, last), genome, 20)
    assert codes_text(codes.ref[0]) == "N" * 10 + seq[:10]
    ref, alt = windows_by_hand("chr2", len(seq), "", inserted, 20)
    assert alt.endswith(inserted + "N" * 8)
    assert (codes_text(codes.ref[1]), codes_text(codes.alt[1])) == (ref, alt)


def test_equivalent_indels_normalise_to_one(genome):
    seq = CONTIGS["chr1"]
    # AC deleted from the ACACACACAC repeat at 0-based 1000..1009, written seven ways
    ways = [("chr1", q, seq[q - 1 : q + 2], seq[q - 1]) for q in range(1000, 1010, 2)]
    ways.append(("chr1", 1002, "CACAC", "CAC"))  # more bases around it
    ways.append(("chr1", 1001, "ACACA", "ACA"))
    codes = variant_codes(alleles(*ways), genome, 31)
    norm = {(codes.columns["norm_pos"][i], codes.columns["norm_ref"][i],
             codes.columns["norm_alt"][i]) for i in range(len(ways))}  # fmt: skip
    assert norm == {(1000, seq[999:1002], seq[999])}  # left-aligned, VCF style
    assert all((codes.ref[i] == codes.ref[0]).all() for i in range(len(ways)))
    assert all((codes.alt[i] == codes.alt[0]).all() for i in range(len(ways)))
    # an A inserted into the homopolymer TAAAAAAA at 0-based 2000..2007, eight ways
    ins = [("chr1", q, seq[q - 1], seq[q - 1] + "A") for q in range(2001, 2009)]
    codes = variant_codes(alleles(*ins), genome, 30)
    assert set(codes.columns["norm_pos"]) == {2001}
    assert set(codes.columns["norm_alt"]) == {"TA"}
    assert all((codes.alt[i] == codes.alt[0]).all() for i in range(len(ins)))


# ------------------------------------------------------------------------------ REF check


def test_ref_check_flags_mismatches_and_swaps(genome):
    seq = CONTIGS["chr1"]
    base = seq[99]
    other = [b for b in LETTERS if b != base]
    rows = [
        ("chr1", 100, base, other[0]),  # match
        ("chr1", 100, other[0], other[1]),  # mismatch
        ("chr1", 100, other[0], base),  # swapped: ALT is the genome's base
        ("1", 100, base, other[1]),  # Ensembl name, match
    ]
    codes = variant_codes(alleles(*rows), genome, 11)
    assert codes.columns["ref_match"] == ["match", "mismatch", "swapped", "match"]
    assert (codes.mismatch, codes.swapped, codes.dropped) == (2, 1, 0)
    # flagged rows are scored with the genome's base as ref: the swap changes nothing
    assert (codes.ref[1] == codes.ref[0]).all() and (codes.alt[2] == codes.ref[2]).all()
    skipped = variant_codes(alleles(*rows), genome, 11, ref_mismatch="skip")
    assert skipped.columns["ref_match"] == ["match", "match"] and skipped.dropped == 2
    with pytest.raises(DataError, match=r"chr1:100 has REF .* but the genome has"):
        variant_codes(alleles(*rows), genome, 11, ref_mismatch="error")
    with pytest.raises(UsageError, match="ref_mismatch"):
        variant_codes(alleles(*rows), genome, 11, ref_mismatch="ignore")
    assert REF_MISMATCH == ("flag", "skip", "error")


def test_unknown_contig_and_past_the_end_are_errors(genome):
    with pytest.raises(DataError, match="contig 'chr9' is not in the genome; it has chr1, chr2"):
        variant_codes(alleles(("chr9", 5, "A", "C")), genome, 11)
    with pytest.raises(DataError, match="past the end of contig 'chr2'"):
        variant_codes(alleles(("chr2", 401, "A", "C")), genome, 11)


# ------------------------------------------------------------------------------ reading


def test_allele_problems():
    given = ["A", "acgtn", "<DEL>", "*", ".", "", "RY", "G]2:5]"]
    expected = [None, None, "symbolic", "symbolic", "missing", "missing", "invalid", "symbolic"]
    assert [allele_problem(a) for a in given] == expected


@pytest.mark.parametrize("compress", [None, "gzip", "bgzip"])
def test_multi_allelic_records_split_and_unscorable_alleles_counted(tmp_path, compress):
    path = write_vcf(tmp_path / "v.vcf", [
        (1, 10, "rs1", "A", "C,G,<DEL>"),
        (1, 20, ".", "A", "."),
        (1, 30, "rs3", "A", "*,R"),
        (2, 40, "rs4", "AC", "A"),
    ], compress)  # fmt: skip
    reader = VariantReader(path, chunk_size=2)
    chunks = list(reader)
    assert [len(c) for c in chunks] == [2, 1]
    rows = [(c.chrom[i], c.pos[i], c.ids[i], c.ref[i], c.alt[i]) for c in chunks
            for i in range(len(c))]  # fmt: skip
    assert rows == [("1", 10, "rs1", "A", "C"), ("1", 10, "rs1", "A", "G"),
                    ("2", 40, "rs4", "AC", "A")]  # fmt: skip
    assert reader.records == 4
    assert reader.skipped == {"symbolic": 2, "missing": 1, "invalid": 1}
    with pytest.raises(DataError, match=r"1:10 A><DEL> cannot be scored \(symbolic"):
        list(VariantReader(path, strict=True))


def test_bcf_is_read(tmp_path):
    import cyvcf2

    vcf = write_vcf(tmp_path / "v.vcf", [(1, 10, "rs1", "A", "C,G"), (2, 5, ".", "T", "TA")])
    bcf = tmp_path / "v.bcf"
    template = cyvcf2.VCF(str(vcf))
    writer = cyvcf2.Writer(str(bcf), template, mode="wb")
    for record in template:
        writer.write_record(record)
    writer.close()
    template.close()
    reader = VariantReader(bcf)
    rows = [(c.chrom[i], c.pos[i], c.alt[i]) for c in reader for i in range(len(c))]
    assert rows == [("1", 10, "C"), ("1", 10, "G"), ("2", 5, "TA")]


def test_vcf_errors_are_one_line(tmp_path):
    no_header = tmp_path / "no_header.vcf"
    no_header.write_text("1\t10\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(DataError, match="not a VCF file: it does not start with a ##fileformat"):
        VariantReader(no_header)
    with pytest.raises(DataError, match="no such file"):
        VariantReader(tmp_path / "missing.vcf")
    rows = [(1, 10 + i, ".", "A", "C") for i in range(20000)]
    whole = write_vcf(tmp_path / "whole.vcf.gz", rows, "bgzip").read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="no end-of-file block: it is truncated"):
        VariantReader(cut)
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    cut.write_bytes(whole[: len(whole) // 2] + eof)  # cut inside a block, then "closed"
    with pytest.raises(DataError, match="cannot read the record after record .* truncated"):
        list(VariantReader(cut))
    plain_cut = tmp_path / "cut2.vcf.gz"
    text = VCF_HEADER + "".join(f"1\t{10 + i}\t.\tA\tC\t.\t.\t.\n" for i in range(20000))
    plain_cut.write_bytes(gzip.compress(text.encode())[:4000])
    with pytest.raises(DataError, match="truncated"):
        list(VariantReader(plain_cut))
    with pytest.raises(UsageError, match="lacks alt"):
        VariantReader(pd.DataFrame({"chrom": ["1"], "pos": [1], "ref": ["A"]}))


def test_chrom_line_with_spaces_is_repaired(tmp_path, caplog):
    header = VCF_HEADER.replace("\t", "    ").replace("\n", "\r\n")
    path = write_vcf(tmp_path / "spaces.vcf.gz", [(1, 10, ".", "A", "C")], "gzip", header)
    with caplog.at_level("WARNING", logger="seqcnn"):
        rows = [(c.chrom[0], c.pos[0], c.alt[0]) for c in VariantReader(path)]
    assert rows == [("1", 10, "C")]
    assert "separated by spaces" in caplog.text


# ------------------------------------------------------------------------------ scores


def _vcf_rows(genome_seq: str, n: int, seed: int = 3):
    """SNVs, deletions, insertions and an MNP at random places on chr1."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        pos = rng.randrange(2, len(genome_seq) - 10)
        ref = genome_seq[pos - 1]
        kind = k % 4
        if kind == 0:
            rows.append(("chr1", pos, ref, rng.choice([b for b in LETTERS if b != ref])))
        elif kind == 1:
            rows.append(("chr1", pos, genome_seq[pos - 1 : pos + 2], ref))
        elif kind == 2:
            rows.append(("chr1", pos, ref, ref + "".join(rng.choice(LETTERS) for _ in range(3))))
        else:
            rows.append(("chr1", pos, genome_seq[pos - 1 : pos + 1], "TT"))
    return rows


def _by_hand(model, genome, rows, rc_average: bool):
    """Hand scores: windows rebuilt from the normalised variants, outputs in numpy."""
    codes = variant_codes(alleles(*rows), genome, model.config["input_length"])
    outputs = []
    for i in range(len(rows)):
        p = codes.columns["norm_pos"][i]
        ref, alt = codes.columns["norm_ref"][i], codes.columns["norm_alt"][i]
        if len(ref) != len(alt):  # an indel, written with the base before it
            ref, alt = ref[1:], alt[1:]
        else:
            p -= 1
        windows = windows_by_hand("chr1", p, ref, alt, model.config["input_length"])
        per_window = []
        for window in windows:
            strands = [window, window.translate(COMPLEMENT)[::-1]][: 2 if rc_average else 1]
            per_window.append(np.stack([model.by_hand(s) for s in strands]))
        outputs.append(per_window)
    return outputs


@pytest.mark.parametrize("rc_average", [False, True])
def test_scores_equal_the_hand_computation(genome, rc_average):
    model = PositionLinear(21)
    rows = _vcf_rows(CONTIGS["chr1"], 24)
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    effects = score_variants(model, frame, genome, rc_average=rc_average, batch_size=7)
    assert list(effects.columns) == [*VARIANT_COLUMNS, *effect_columns(["out0", "out1"], "sigmoid")]
    assert len(effects) == len(rows) and (effects.ref_match == "match").all()
    for i, (ref_raw, alt_raw) in enumerate(_by_hand(model, genome, rows, rc_average)):
        for t in range(2):
            p_ref = np.mean(1 / (1 + np.exp(-ref_raw[:, t])))
            p_alt = np.mean(1 / (1 + np.exp(-alt_raw[:, t])))
            row = effects.iloc[i]
            assert row[f"out{t}_ref"] == pytest.approx(p_ref, rel=1e-5)
            assert row[f"out{t}_alt"] == pytest.approx(p_alt, rel=1e-5)
            assert row[f"out{t}_diff"] == pytest.approx(p_alt - p_ref, abs=1e-6)
            logit = math.log(p_alt / (1 - p_alt)) - math.log(p_ref / (1 - p_ref))
            assert row[f"out{t}_logit_diff"] == pytest.approx(logit, rel=1e-4, abs=1e-5)


def test_motif_counter_scores_by_hand(genome):
    model = MotifCounter(25)
    seq = CONTIGS["chr1"]
    # GATTACA at 0-based 1500: break its T (1-based 1503), delete its TT, insert into it
    rows = [("chr1", 1503, "T", "G"), ("chr1", 1502, "ATT", "A"), ("chr1", 1504, "T", "TC"),
            ("chr1", 1600, seq[1599], "A" if seq[1599] != "A" else "C")]  # fmt: skip
    effects = score_variants(model, pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"]),
                             genome, rc_average=False)  # fmt: skip
    for i, (ref_raw, alt_raw) in enumerate(_by_hand(model, genome, rows, False)):
        row = effects.iloc[i]
        assert row.gattaca_ref == pytest.approx(math.exp(ref_raw[0]), rel=1e-6)
        assert row.gattaca_alt == pytest.approx(math.exp(alt_raw[0]), rel=1e-6)
        assert row.gattaca_log2fc == pytest.approx((alt_raw[0] - ref_raw[0]) / math.log(2))
    # the three that break the motif lower the score from its full match
    np.testing.assert_allclose(effects.gattaca_ref[:3], math.exp(7), rtol=1e-6)
    assert (effects.gattaca_diff[:3] < 0).all()


def test_effect_scores_for_every_transform():
    rng = np.random.default_rng(0)
    raw_ref, raw_alt = rng.normal(size=(2, 5, 3)) * 4, rng.normal(size=(2, 5, 3)) * 4
    names = ["a", "b", "c"]
    softmax = effect_scores(raw_ref, raw_alt, "softmax", names)
    probs = [
        np.mean(np.exp(r) / np.exp(r).sum(-1, keepdims=True), axis=0) for r in (raw_ref, raw_alt)
    ]
    np.testing.assert_allclose(softmax["b_ref"], probs[0][:, 1], rtol=1e-6)
    logit = [np.log(p / (1 - p)) for p in probs]
    np.testing.assert_allclose(softmax["c_logit_diff"], logit[1][:, 2] - logit[0][:, 2], rtol=1e-5)
    identity = effect_scores(raw_ref, raw_alt, "identity", names)
    assert list(identity) == effect_columns(names, "identity")
    np.testing.assert_allclose(identity["a_diff"], raw_alt.mean(0)[:, 0] - raw_ref.mean(0)[:, 0],
                               rtol=1e-6)  # fmt: skip
    # probabilities too close to 1 for float32 keep exact logit differences
    big = effect_scores(np.full((1, 1, 1), 30.0), np.full((1, 1, 1), 25.0), "sigmoid", ["x"])
    assert big["x_logit_diff"][0] == pytest.approx(-5.0)


def test_scores_equal_predict_on_the_same_windows(genome):
    from seqcnn.predict import predict

    model = PositionLinear(21, transform="sigmoid")
    rows = _vcf_rows(CONTIGS["chr1"], 8)
    effects = score_variants(model, pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"]),
                             genome, rc_average=True)  # fmt: skip
    codes = variant_codes(alleles(*rows), genome, 21)
    expected = predict(model, codes.alt, rc_average=True)
    np.testing.assert_allclose(effects[["out0_alt", "out1_alt"]].to_numpy(), np.asarray(expected),
                               rtol=1e-5)  # fmt: skip


def test_chunks_and_batches_do_not_change_the_scores(genome):
    model = PositionLinear(21)
    rows = _vcf_rows(CONTIGS["chr1"], 40, seed=5)
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    frame["id"] = [f"v{i}" if i % 3 else None for i in range(len(rows))]
    whole = score_variants(model, frame, genome, batch_size=256)
    pieces = score_variants(model, frame, genome, batch_size=1)  # chunks of 4 alleles
    pd.testing.assert_frame_equal(whole, pieces)
    assert list(whole.id[:3]) == [".", "v1", "v2"]


def test_prefetched_keeps_order_raises_and_stops():
    from seqcnn.variants import prefetched

    assert list(prefetched(iter(range(100)), depth=2)) == list(range(100))

    def failing():
        yield 1
        raise DataError("bad record")

    with pytest.raises(DataError, match="bad record"):
        list(prefetched(failing()))
    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    items = prefetched(endless())
    assert next(items) == 0
    items.close()
    assert closed == [True]


def test_reading_beside_or_between_forward_passes(genome, monkeypatch):
    import seqcnn.threads
    import seqcnn.variants as variants

    model = PositionLinear(21)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr(seqcnn.threads, "available_cpus", lambda: 1)
    assert not variants.spare_core(model)  # the one CPU runs the network: read in turn
    monkeypatch.setattr(seqcnn.threads, "available_cpus", lambda: 2)
    assert variants.spare_core(model)  # a CPU the network does not use
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert variants.spare_core(model)  # two streams: the calling thread would only wait
    # either way, the same table
    frame = pd.DataFrame(_vcf_rows(CONTIGS["chr1"], 40, seed=6), columns=["chrom", "pos", "ref",
                                                                           "alt"])  # fmt: skip
    threads = []
    prefetched = variants.prefetched
    monkeypatch.setattr(
        variants, "prefetched", lambda items: threads.append(1) or prefetched(items)
    )
    tables = []
    for spare in (True, False):
        monkeypatch.setattr(variants, "spare_core", lambda network, spare=spare: spare)
        tables.append(score_variants(model, frame, genome, batch_size=2))
    assert threads == [1]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert list(tables[0].dtypes[["pos", "norm_pos"]]) == [np.int64, np.int64]


def test_network_input_stacks_both_windows_and_their_reverse_complements():
    from seqcnn.onehot import reverse_complement_codes
    from seqcnn.variants import network_input

    rng = np.random.default_rng(4)
    ref, alt = rng.integers(0, 15, (2, 9, 13)).astype(np.uint8)  # every IUPAC code
    x = network_input(ref, alt, rc_average=True)
    expected = [ref, alt, reverse_complement_codes(ref), reverse_complement_codes(alt)]
    np.testing.assert_array_equal(x, np.concatenate(expected))
    assert x.flags.c_contiguous and x.dtype == np.uint8
    np.testing.assert_array_equal(network_input(ref, alt, rc_average=False), np.r_[ref, alt])


def test_model_without_input_length_is_an_error(genome):
    network = torch.nn.Conv1d(4, 1, 3)
    network.config = {"n_outputs": 1}
    frame = pd.DataFrame({"chrom": ["chr1"], "pos": [5], "ref": ["A"], "alt": ["C"]})
    with pytest.raises(UsageError, match="input_length"):
        score_variants(network, frame, genome)


# ------------------------------------------------------------------------------ tables


@pytest.mark.parametrize("name", ["effects.tsv", "effects.csv.gz", "effects.parquet"])
def test_tables_in_every_format(tmp_path, genome, name):
    if name.endswith("parquet"):
        pytest.importorskip("pyarrow")
    model = PositionLinear(21)
    rows = [(r[0].replace("chr", ""), r[1], ".", r[2], r[3]) for r in _vcf_rows(CONTIGS["chr1"], 8)]
    vcf = write_vcf(tmp_path / "v.vcf.gz", rows, "bgzip")
    out = tmp_path / name
    stats = score_variants_file(model, vcf, genome, out)
    assert stats.rows == 8 and stats.records == 8
    expected = score_variants(model, vcf, genome)
    if name.endswith("parquet"):
        table = pd.read_parquet(out)
    else:
        table = pd.read_csv(out, sep="," if ".csv" in name else "\t", dtype={"chrom": str})
    assert list(table.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(table[list(VARIANT_COLUMNS)], expected[list(VARIANT_COLUMNS)],
                                  check_dtype=False)  # fmt: skip
    np.testing.assert_array_equal(table["out0_diff"].to_numpy(np.float32),
                                  expected["out0_diff"].to_numpy())  # fmt: skip
    with pytest.raises(UsageError, match="already exists"):
        score_variants_file(model, vcf, genome, out, overwrite=False)


def test_an_error_leaves_no_table(tmp_path, genome):
    vcf = write_vcf(tmp_path / "v.vcf", [(1, 10, ".", "A", "C"), (9, 10, ".", "A", "C")])
    out = tmp_path / "effects.tsv"
    with pytest.raises(DataError, match="contig '9' is not in the genome"):
        score_variants_file(PositionLinear(21), vcf, genome, out)
    assert list(tmp_path.iterdir()) == [vcf]


def test_no_variants_gives_the_header(tmp_path, genome):
    vcf = write_vcf(tmp_path / "v.vcf", [(1, 10, ".", "A", "<DEL>")])
    out = tmp_path / "effects.tsv"
    stats = score_variants_file(PositionLinear(21, n_outputs=1), vcf, genome, out)
    assert stats.rows == 0 and stats.skipped == {"symbolic": 1}
    assert (
        out.read_text()
        == "\t".join([*VARIANT_COLUMNS, *effect_columns(["out0"], "sigmoid")]) + "\n"
    )


# ------------------------------------------------------------------------------ real data


def _shared(*names):
    missing = [n for n in names if not (SHARED / n).exists()]
    if missing:
        pytest.skip(f"../shared/data/{missing[0]} is not here")


@pytest.fixture(scope="module")
def hg19():
    _shared("genome/hg19_chr20.fa.gz")
    return Genome(HG19)


def test_raw_and_normalised_indels_score_identically(hg19):
    _shared("variants/chr20_indels.vcf.gz", "variants/chr20_indels.normalized.vcf.gz")
    model = PositionLinear(101)
    raw = score_variants(model, VARIANTS / "chr20_indels.vcf.gz", hg19, rc_average=True)
    norm = score_variants(model, VARIANTS / "chr20_indels.normalized.vcf.gz", hg19,
                          rc_average=True)  # fmt: skip
    assert len(raw) == len(norm) == 194
    assert (raw.pos != norm.pos).sum() > 50  # many were not left-aligned
    scores = effect_columns(["out0", "out1"], "sigmoid")
    np.testing.assert_array_equal(raw[scores].to_numpy(), norm[scores].to_numpy())
    # the normaliser agrees with vt normalize on every indel
    assert list(raw.norm_pos) == list(norm.pos)
    assert list(raw.norm_ref) == list(norm.ref) and list(raw.norm_alt) == list(norm.alt)


def test_the_mismatch_file_flags_exactly_the_556(hg19):
    _shared("variants/chr20_snvs_ref_mismatch.vcf.gz")
    path = VARIANTS / "chr20_snvs_ref_mismatch.vcf.gz"
    effects = score_variants(PositionLinear(21), path, hg19)
    assert len(effects) == 717
    assert (effects.ref_match != "match").sum() == 556
    skipped = score_variants(PositionLinear(21), path, hg19, ref_mismatch="skip")
    assert len(skipped) == 161 and (skipped.ref_match == "match").all()
    with pytest.raises(DataError, match="has REF"):
        score_variants(PositionLinear(21), path, hg19, ref_mismatch="error")


@pytest.mark.parametrize(
    "name, rows",
    [("chr20_snvs_a", 300), ("chr20_snvs_b", 300), ("chr20_indels", 194),
     ("chr20_indels.normalized", 194), ("chr20_indels_platypus", 1020)],
)  # fmt: skip
def test_shared_vcfs_match_the_reference(hg19, name, rows):
    _shared(f"variants/{name}.vcf.gz")
    effects = score_variants(MotifCounter(40), VARIANTS / f"{name}.vcf.gz", hg19)
    assert len(effects) == rows and (effects.ref_match == "match").all()


# ------------------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from seqcnn.bundle import save_model
    from seqcnn.models import build_model, receptive_field

    torch.manual_seed(0)
    network = build_model("cnn", input_length=40, n_outputs=1, first_filters=8,
                          conv_filters=[8], dense_units=16)  # fmt: skip
    folder = tmp_path_factory.mktemp("bundle")
    config = {"alphabet": "ACGT", "input_length": 40, "n_encoding": "zeros", "task": "binary",
              "loss": None, "output_names": ["bound"], "output_transform": "sigmoid",
              "receptive_field": receptive_field(network), "rc_average": True,
              "parameters": sum(p.numel() for p in network.parameters())}  # fmt: skip
    save_model(network, config, folder)
    return folder


def test_cli_writes_the_table(tmp_path, genome, bundle):
    rows = [(1, 100, "rs1", CONTIGS["chr1"][99], "A,C,G,T"), (2, 50, ".", "A", "<DEL>")]
    vcf = write_vcf(tmp_path / "v.vcf.gz", rows, "gzip")
    out = tmp_path / "effects.tsv.gz"
    result = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "1 symbolic" in result.stderr
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 4 and list(table.columns[-4:]) == effect_columns(["bound"], "sigmoid")
    again = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "-o", out)
    assert_one_line_error(again, "already exists", code=2)
    stdout = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "-q",
                        "--no-rc-average", "--ref-mismatch", "skip")  # fmt: skip
    assert stdout.returncode == 0 and stdout.stdout.startswith("chrom\tpos\tid\tref\talt\t")
    strict = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "--strict")
    assert_one_line_error(strict, "cannot be scored (symbolic allele)")


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path, genome, bundle):
    no_header = tmp_path / "no_header.vcf"
    no_header.write_text("1\t10\t.\tA\tC\t.\t.\t.\n")
    unknown = write_vcf(
        tmp_path / "unknown.vcf", [(1, 10, ".", "A", "C"), ("chrX", 5, ".", "A", "C")]
    )
    rows = [(1, 10 + i, ".", "A", "C") for i in range(20000)]
    whole = write_vcf(tmp_path / "whole.vcf.gz", rows, "bgzip").read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    for vcf, fragment in [(no_header, "not a VCF file"), (unknown, "contig 'chrX' is not in"),
                          (cut, "truncated")]:  # fmt: skip
        out = tmp_path / "effects.tsv"
        result = run_seqcnn("variants", vcf, "-m", bundle, "--genome", genome.path, "-o", out)
        assert_one_line_error(result, fragment)
        assert not out.exists() and not list(tmp_path.glob(".effects*"))
    # a model whose input length is unknown
    broken = tmp_path / "broken_model"
    shutil.copytree(bundle, broken)
    config = json.loads((broken / "config.json").read_text())
    del config["input_length"]
    (broken / "config.json").write_text(json.dumps(config))
    result = run_seqcnn("variants", unknown, "-m", broken, "--genome", genome.path, "-o", out)
    assert_one_line_error(result, "input_length")
    assert not out.exists()
