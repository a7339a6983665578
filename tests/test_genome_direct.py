"""DirectReader: a genome's codes read straight from the file equal Genome.fetch_codes, bit
for bit (plain and bgzip, many blocks, soft-masked and N bases, CRLF lines, ranges off the
ends), and anything unusual is read and reported by Genome.fetch_codes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_fasta_file

from seqcnn.errors import DataError
from seqcnn.genome import Genome, ReadAhead
from seqcnn.genome_direct import DirectReader, direct_reader


def _contigs(seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    big = "".join(rng.choice(list("ACGTacgtN"), 300_000))  # several 64 kb bgzip blocks
    return {"chr1": big, "chr2": "ACGTNacgtn" * 7 + "A", "chrM": "G" * 59}


@pytest.fixture(params=[(None, "\n"), ("bgzip", "\n"), (None, "\r\n"), ("bgzip", "\r\n")],
                ids=["plain", "bgzip", "plain-crlf", "bgzip-crlf"])  # fmt: skip
def genome(request, tmp_path):
    compress, newline = request.param
    name = "ref.fa.gz" if compress else "ref.fa"
    path = write_fasta_file(tmp_path / name, list(_contigs().items()), width=61,
                            newline=newline, compress=compress)  # fmt: skip
    return Genome(path)


def test_codes_equal_fetch_codes(genome):
    reader = DirectReader(genome)
    rng = np.random.default_rng(1)
    size = genome.contigs["chr1"]
    starts = rng.integers(-100, size + 50, 60)
    ranges = [(int(s), int(s + rng.integers(0, 150_000))) for s in starts]
    ranges += [(0, 0), (0, 1), (60, 62), (size - 1, size), (size - 5, size + 5), (-3, 2),
               (0, size), (65_270, 65_300)]  # fmt: skip
    for start, end in ranges:
        np.testing.assert_array_equal(reader.fetch_codes("chr1", start, end),
                                      genome.fetch_codes("chr1", start, end))  # fmt: skip
    for contig in ("chr2", "M", "chrM"):  # short contigs, a line not full, an alias
        np.testing.assert_array_equal(reader.fetch_codes(contig, -2, 80),
                                      genome.fetch_codes(contig, -2, 80))  # fmt: skip


def test_read_ahead_through_the_reader(genome):
    starts = np.array([5, 150_000, 100, 299_990, -20])
    ends = starts + 300
    ahead = ReadAhead(direct_reader(genome), "chr1", starts, ends)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        np.testing.assert_array_equal(ahead.codes(s, e), genome.fetch_codes("chr1", s, e))
    np.testing.assert_array_equal(
        ahead.windows(starts, 120), genome.window_codes("chr1", starts, 120)
    )
    assert direct_reader(genome) is direct_reader(genome)  # one per genome object


def test_errors_are_fetch_codes_errors(tmp_path):
    for compress, name in ((None, "bad.fa"), ("bgzip", "bad.fa.gz")):
        path = write_fasta_file(tmp_path / name, [("chr1", "ACGT" * 30 + "ACXT" + "ACGT" * 5)],
                                width=50, compress=compress)  # fmt: skip
        genome = Genome(path)
        reader = DirectReader(genome)
        np.testing.assert_array_equal(reader.fetch_codes("chr1", 0, 120),
                                      genome.fetch_codes("chr1", 0, 120))  # fmt: skip
        with pytest.raises(DataError, match="invalid letter at 0-based position 122"):
            reader.fetch_codes("chr1", 100, 130)
        with pytest.raises(DataError, match="runs off contig"):
            reader.fetch_codes("chr1", 100, 500, pad=False)
        with pytest.raises(DataError, match="not in the genome"):
            reader.fetch_codes("chr9", 0, 10)


def test_a_file_unlike_its_index_is_read_the_usual_way(tmp_path, monkeypatch):
    path = write_fasta_file(tmp_path / "ref.fa.gz", list(_contigs().items()), width=60,
                            compress="bgzip")  # fmt: skip
    genome = Genome(path)
    reader = DirectReader(genome)
    usual = []
    fetch = genome.fetch_codes
    monkeypatch.setattr(genome, "fetch_codes", lambda *a: usual.append(a) or fetch(*a))
    compressed, uncompressed = reader.blocks
    reader.blocks = (compressed + 1, uncompressed)  # block offsets that miss the headers
    np.testing.assert_array_equal(reader.fetch_codes("chr1", 70_000, 70_100),
                                  fetch("chr1", 70_000, 70_100))  # fmt: skip
    assert usual == [("chr1", 70_000, 70_100, True)]


@pytest.mark.parametrize("inflater", ["isal", "zlib"])
def test_either_inflater_reads_the_codes_and_rejects_a_bad_crc(tmp_path, monkeypatch, inflater):
    import zlib

    import seqcnn.genome_direct as direct

    if inflater == "isal":
        isal_zlib = pytest.importorskip("isal.isal_zlib")
        monkeypatch.setattr(direct, "_inflate", isal_zlib.decompress)
        monkeypatch.setattr(direct, "_InflateError", isal_zlib.error)
    else:
        monkeypatch.setattr(direct, "_inflate", zlib.decompress)
        monkeypatch.setattr(direct, "_InflateError", zlib.error)
    path = write_fasta_file(tmp_path / "ref.fa.gz", list(_contigs().items()), width=60,
                            compress="bgzip")  # fmt: skip
    genome = Genome(path)
    reader = DirectReader(genome)
    np.testing.assert_array_equal(reader.fetch_codes("chr1", 60_000, 140_000),
                                  genome.fetch_codes("chr1", 60_000, 140_000))  # fmt: skip
    # The second block's CRC (its last 8 bytes are CRC32, ISIZE) made wrong: not read here.
    compressed, _ = reader.blocks
    data = bytearray(path.read_bytes())
    data[int(compressed[2]) - 8] ^= 0xFF
    path.write_bytes(bytes(data))
    usual = []
    monkeypatch.setattr(genome, "fetch_codes", lambda *a: usual.append(a) or np.zeros(0))
    reader.fetch_codes("chr1", 70_000, 70_100)
    assert usual == [("chr1", 70_000, 70_100, True)]
