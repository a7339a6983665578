"""Reference genomes: indexes, contig names, coordinates, padding, content, processes.

Genomes are small FASTA files written here (plain and bgzip, soft-masked stretches, an N
block); one test reads ../shared/data/genome/hg19_chr20.fa.gz when it is present.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import random_sequences, write_fasta_file

import seqcnn.genome as genome_module
from seqcnn.alphabet import sequence_codes
from seqcnn.errors import DataError
from seqcnn.genome import (
    Genome,
    contig_style,
    gc_content,
    genome_index,
    n_fraction,
    styled_name,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic_contigs(seed: int = 0) -> dict[str, str]:
    """Three contigs with lower-case (soft-masked) runs and an N block."""
    a, b, m = random_sequences(3, 1000, seed=seed)
    a = a[:100] + a[100:160].lower() + a[160:400] + "N" * 50 + a[450:]
    return {"chr1": a, "chr2": b[:777], "chrM": m[:161]}


def write_genome(folder: Path, contigs=None, compress=None, name="ref.fa") -> Path:
    contigs = contigs or synthetic_contigs()
    folder.mkdir(parents=True, exist_ok=True)
    return write_fasta_file(folder / name, list(contigs.items()), width=60, compress=compress)


@pytest.fixture(params=[None, "bgzip"])
def genome_file(request, tmp_path):
    name = "ref.fa.gz" if request.param else "ref.fa"
    return write_genome(tmp_path / "g", compress=request.param, name=name)


def test_fetch_matches_the_sequence_in_both_formats(genome_file):
    contigs = synthetic_contigs()
    genome = Genome(genome_file)
    assert genome.contigs == {name: len(seq) for name, seq in contigs.items()}
    seq = contigs["chr1"]
    for start, end in [(0, 1), (0, 60), (59, 61), (100, 160), (395, 455), (990, 1000)]:
        assert genome.fetch("chr1", start, end) == seq[start:end].upper()
    np.testing.assert_array_equal(
        genome.fetch_codes("chr2", 5, 70), sequence_codes(contigs["chr2"][5:70])
    )
    assert genome.fetch("chr1", 10, 10) == ""
    assert Path(str(genome_file) + ".fai").is_file()
    leftovers = [p.name for p in genome_file.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the index was built beside the file, atomically


def test_ucsc_and_ensembl_names_match():
    assert styled_name("1", "ucsc") == "chr1" and styled_name("chrM", "ensembl") == "MT"
    assert contig_style(["chr1", "chr2"]) == "ucsc" and contig_style(["1", "chr2"]) is None


def test_contig_aliases(tmp_path):
    contigs = {"1": "ACGT" * 10, "MT": "GGCC" * 5, "chrX": "TTAA" * 4}
    genome = Genome(write_genome(tmp_path, contigs))
    assert [genome.resolve(n) for n in ("1", "chr1", "chrM", "MT", "X", "chrX")] == [
        "1", "1", "MT", "MT", "chrX", "chrX"]  # fmt: skip
    assert genome.fetch("chr1", 0, 4) == genome.fetch("1", 0, 4) == "ACGT"
    with pytest.raises(DataError, match=r"contig 'chr7' is not in the genome; it has 1, MT, chrX$"):
        genome.resolve("chr7")


def test_pad_off_the_contig_ends(genome_file):
    seq = synthetic_contigs()["chrM"].upper()
    genome = Genome(genome_file)
    assert genome.fetch("chrM", -3, 4) == "NNN" + seq[:4]
    assert genome.fetch("MT", 158, 165) == seq[158:] + "NNNN"
    assert genome.fetch("chrM", 200, 203) == "NNN"
    with pytest.raises(DataError, match=r"runs off contig 'chrM' \(0-161\)"):
        genome.fetch("chrM", 158, 165, pad=False)


def test_window_codes_equal_single_fetches(genome_file):
    genome = Genome(genome_file)
    rng = np.random.default_rng(0)
    starts = np.concatenate([rng.integers(-20, 1000, 200), [-5, 995, 0, 0]])
    codes = genome.window_codes("chr1", starts, 17)
    for s, row in zip(starts, codes, strict=True):
        np.testing.assert_array_equal(row, genome.fetch_codes("chr1", s, s + 17))


def test_content_helpers():
    codes = np.stack([sequence_codes("GGCANNNN"), sequence_codes("NNNNNNNN")])
    np.testing.assert_allclose(n_fraction(codes), [0.5, 1.0])
    gc = gc_content(codes)
    assert gc[0] == 0.75 and np.isnan(gc[1])


def test_gzip_genome_is_a_clear_error(tmp_path):
    path = write_genome(tmp_path, compress="gzip", name="ref.fa.gz")
    with pytest.raises(DataError, match="gzip-compressed.*bgzip"):
        Genome(path)


def test_invalid_letter_is_named(tmp_path):
    genome = Genome(write_genome(tmp_path, {"c": "ACGT" * 5 + "ACXT"}))
    with pytest.raises(DataError, match="invalid letter at 0-based position 22"):
        genome.fetch("c", 0, 24)


def test_index_goes_to_the_cache_when_the_folder_is_read_only(tmp_path, monkeypatch):
    path = write_genome(tmp_path / "ro", compress="bgzip", name="ref.fa.gz")
    build = genome_module._build_index

    def refuse_beside(fasta, targets):
        if targets[0].parent == fasta.parent:
            raise PermissionError("read-only")
        build(fasta, targets)

    monkeypatch.setattr(genome_module, "_build_index", refuse_beside)
    cache = tmp_path / "cache"
    fai, gzi = genome_index(path, cache_dir=cache)
    assert fai.parent == cache and gzi.parent == cache and fai.name.endswith("-ref.fa.gz.fai")
    assert not Path(str(path) + ".fai").exists()
    genome = Genome(path, cache_dir=cache)
    assert genome.fetch("chr2", 0, 30) == synthetic_contigs()["chr2"][:30].upper()
    assert genome_index(path, cache_dir=cache) == (fai, gzi)  # found again, not rebuilt

    monkeypatch.setattr(genome_module, "_build_index", lambda *a: (_ for _ in ()).throw(OSError()))
    with pytest.raises(DataError, match="no index.*samtools faidx"):
        genome_index(path, cache_dir=tmp_path / "other")


def _fetch_in_worker(args):
    genome, contig, start, end = args
    return genome.fetch(contig, start, end)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_open_their_own_handle(genome_file, method):
    genome = Genome(genome_file)
    genome.fetch("chr1", 0, 10)  # the parent's handle is open before the workers start
    jobs = [(genome, "chr1", s, s + 50) for s in range(0, 900, 37)]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_fetch_in_worker, jobs)
    assert results == [genome.fetch("chr1", s, e) for _, _, s, e in jobs]
    assert pickle.loads(pickle.dumps(genome))._faidx is None


def test_hg19_chr20_matches_the_ctcf_peaks():
    path = SHARED / "genome" / "hg19_chr20.fa.gz"
    if not path.is_file() or not (SHARED / "ctcf.fa.gz").is_file():
        pytest.skip("../shared/data/genome/hg19_chr20.fa.gz is not here")
    genome = Genome(path)
    assert genome.contigs == {"20": 63_025_520} and genome.resolve("chr20") == "20"
    checked = 0
    with gzip.open(SHARED / "ctcf.fa.gz", "rt") as handle:
        for header, seq in zip(handle, handle, strict=False):
            if header.startswith(">chr20:"):
                chrom, span = header[1:].split()[0].split(":")
                start, end = map(int, span.split("-"))
                assert genome.fetch(chrom, start, end) == seq.strip().upper()
                checked += 1
                if checked == 20:
                    break
    assert checked == 20


def test_genome_is_named_in_errors(tmp_path):
    with pytest.raises(DataError, match="genome file not found"):
        Genome(tmp_path / "missing.fa")
    plain = write_genome(tmp_path, name="plain.fa.gz")
    with pytest.raises(DataError, match="named .gz but is not compressed"):
        Genome(plain)
    assert os.path.basename(str(plain)) in str(pytest.raises(DataError, Genome, plain).value)


def test_an_index_older_than_its_genome_is_rebuilt(tmp_path):
    path = write_genome(tmp_path, {"c": "ACGT" * 30})
    assert Genome(path).contigs == {"c": 120}
    write_genome(tmp_path, {"c": "GG" * 10, "d": "TTTT"})
    later = os.stat(path.with_name("ref.fa.fai")).st_mtime + 10
    os.utime(path, (later, later))
    genome = Genome(path)
    assert genome.contigs == {"c": 20, "d": 4} and genome.fetch("d", 0, 4) == "TTTT"
