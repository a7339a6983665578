"""Variants scored in parts (``--part K/N``) and gathered (``--gather``): the table of one
run, byte for byte, with the counts adding up; the table writer of mixed columns."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line_error, run_seqcnn
from test_variants import CONTIGS, LETTERS, PositionLinear, bundle, genome, write_vcf  # noqa: F401

from seqcnn.errors import DataError, UsageError
from seqcnn.tables import write_frames
from seqcnn.variants import gather_variant_tables, score_variants_file
from seqcnn.vcf import VariantReader


def _rows(n: int = 40):
    """SNVs, multi-allelic records, indels and unscorable alleles on both contigs."""
    rows = []
    for k in range(n):
        chrom, seq = ("1", CONTIGS["chr1"]) if k % 5 else ("2", CONTIGS["chr2"])
        p = 20 + (k * 53) % (len(seq) - 40)
        base = seq[p]
        other = "ACGT"[(LETTERS.index(base) + 1) % 4]
        alt = [other, f"{other},<DEL>", base + "TT", "*", f"{other},{seq[p + 1]}"][k % 5]
        rows.append((chrom, p + 1, f"v{k}", base if k % 5 != 2 else base, alt))
    return rows


def _stats(stats):
    return stats.records, stats.rows, dict(stats.skipped)


@pytest.mark.parametrize("n_parts", [1, 3, 7])
def test_parts_gather_into_the_table_of_one_run(tmp_path, genome, n_parts):  # noqa: F811
    model = PositionLinear(21, seed=2)
    vcf = write_vcf(tmp_path / "v.vcf.gz", _rows(), "bgzip")
    whole = tmp_path / "whole.tsv"
    total = score_variants_file(model, vcf, genome, whole, batch_size=2, rc_average=True)
    parts, counts = [], np.zeros(3)
    for k in range(1, n_parts + 1):
        part = tmp_path / f"part{k}.{'parquet' if k == 2 else 'csv.gz' if k == 3 else 'tsv'}"
        if part.suffix == ".parquet":
            pytest.importorskip("pyarrow")
        stats = score_variants_file(model, vcf, genome, part, batch_size=2, rc_average=True,
                                    part=(k, n_parts))  # fmt: skip
        counts += [stats.records, stats.rows, sum(stats.skipped.values())]
        parts.append(part)
    assert list(counts) == [total.records, total.rows, sum(total.skipped.values())]
    gathered = tmp_path / "gathered.tsv"
    assert gather_variant_tables(parts, gathered) == total.rows
    assert gathered.read_bytes() == whole.read_bytes()
    gz = tmp_path / "gathered.csv.gz"
    gather_variant_tables(parts, gz)
    assert gzip.decompress(gz.read_bytes()).decode() == whole.read_text().replace("\t", ",")


def test_parts_are_cut_between_chunks():
    alts = ["C", "<DEL>", "G", "T", "C", "G", "T", "C", "G", "T"]
    frame = pd.DataFrame({"chrom": ["1"] * 10, "pos": range(1, 11), "ref": ["A"] * 10,
                          "alt": alts})  # fmt: skip
    sizes = {}
    for k in (1, 2, 3):
        reader = VariantReader(frame, chunk_size=2, part=(k, 3))
        sizes[k] = [len(chunk) for chunk in reader], reader.records, dict(reader.skipped)
    # 9 scorable alleles, 5 chunks of 2: parts of 1, 2 and 2 chunks
    assert sizes == {1: ([2], 3, {"symbolic": 1}), 2: ([2, 2], 4, {}), 3: ([2, 1], 3, {})}
    with pytest.raises(UsageError, match="part 4/3"):
        VariantReader(frame, part=(4, 3))


def test_gather_checks_the_tables(tmp_path, genome):  # noqa: F811
    vcf = write_vcf(tmp_path / "v.vcf", _rows(6))
    one = tmp_path / "one.tsv"
    score_variants_file(PositionLinear(21, n_outputs=1), vcf, genome, one)
    two = tmp_path / "two.tsv"
    score_variants_file(PositionLinear(21, n_outputs=2), vcf, genome, two)
    with pytest.raises(DataError, match="columns differ"):
        gather_variant_tables([one, two], tmp_path / "out.tsv")
    other = tmp_path / "other.tsv"
    other.write_text("id\tbound\na\t0.5\n")
    with pytest.raises(DataError, match="not a table of variant effects"):
        gather_variant_tables([other], tmp_path / "out.tsv")
    with pytest.raises(UsageError, match="already exists"):
        gather_variant_tables([one], two, overwrite=False)
    assert not (tmp_path / "out.tsv").exists()


def test_write_frames_quotes_and_formats_like_the_csv_module(tmp_path):
    frame = pd.DataFrame({"name": ['a,"b', "c"], "n": [1, 22], "x": [0.1, np.nan]})
    out = tmp_path / "t.csv"
    assert write_frames([frame], out, ["name", "n", "x"], text_columns=["name", "n"],
                        fmt="csv") == 2  # fmt: skip
    assert out.read_text() == 'name,n,x\n"a,""b",1,0.1\nc,22,nan\n'
    # a quote is quoted in TSV too (as csv.writer does), whichever chunk it is in
    tsv = tmp_path / "t.tsv"
    write_frames([frame.iloc[:1], frame.iloc[1:]], tsv, ["name", "n", "x"],
                 text_columns=["name", "n"])  # fmt: skip
    assert tsv.read_text() == 'name\tn\tx\n"a,""b"\t1\t0.1\nc\t22\tnan\n'


def test_cli_parts_and_gather(tmp_path, genome, bundle):  # noqa: F811
    vcf = write_vcf(tmp_path / "v.vcf", _rows(12))
    base = ["-m", bundle, "--genome", genome.path, "--batch-size", 2]
    whole = tmp_path / "whole.tsv"
    assert run_seqcnn("variants", vcf, *base, "-o", whole).returncode == 0
    parts = []
    for k in (1, 2):
        parts.append(tmp_path / f"p{k}.tsv")
        result = run_seqcnn("variants", vcf, *base, "--part", f"{k}/2", "-o", parts[-1])
        assert result.returncode == 0, result.stderr
    out = tmp_path / "all.tsv"
    result = run_seqcnn("variants", "--gather", *parts, "-o", out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == whole.read_bytes()
    extra = run_seqcnn("variants", "--gather", *parts, "-o", out, "--force", "--genome",
                       genome.path)  # fmt: skip
    assert_one_line_error(extra, "go with scoring", code=2)
    assert_one_line_error(run_seqcnn("variants", vcf, *base, "--part", "3/2"), "K/N", code=2)
    assert_one_line_error(run_seqcnn("variants", vcf, parts[0], *base), "--gather", code=2)
