import gzip

import numpy as np
import pytest
from conftest import random_sequences, write_fasta_file
from hypothesis import given
from hypothesis import strategies as st

from seqcnn.errors import DataError
from seqcnn.fasta import read_fasta, read_fasta_records, reverse_complement, write_fasta


@pytest.mark.parametrize("compress", [None, "gzip", "bgzip"])
@pytest.mark.parametrize("width", [None, 7])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_formats_read_identically(tmp_path, records, compress, width, newline):
    path = write_fasta_file(tmp_path / "x.fa", records, width, newline, compress)
    assert list(read_fasta(path)) == records


def test_stdin_like_gzip_detected_by_content_not_name(tmp_path, records):
    path = write_fasta_file(tmp_path / "x.txt", records, compress="gzip")
    assert list(read_fasta(path)) == records


def test_blank_lines_descriptions_soft_mask_and_rna(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text("\n\n>a some description here\nacgtN\n\nRYuU\n\n>b\nACGU\n")
    assert list(read_fasta(path)) == [("a", "ACGTNRYTT"), ("b", "ACGT")]


def test_raw_records_keep_case_and_give_descriptions(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">a desc label=1\nacgt\n")
    assert list(read_fasta_records(path, with_description=True)) == [("a", "desc label=1", "acgt")]


@pytest.mark.parametrize(
    "text, message",
    [
        (">a\nACGT\n>b\nACXT\n", "record 'b': invalid letter 'X' at position 3"),
        (">a\nACGT\n>b\nAC*T\n", "record 'b': invalid letter '*' at position 3"),
        (">a\nAC1T\n", "invalid letter '1' at position 3"),
        (">a\nACGE\n", "invalid letter 'E' at position 4"),
        (">a\nACGT\n>a\nACGT\n", "record 'a': duplicate record id"),
        (">a\n>b\nACGT\n", "record 'a': empty sequence"),
        ("ACGT\nACGT\n", "not a FASTA file"),
        ("", "file is empty"),
        ("\n\n  \n", "file is empty"),
        (">\nACGT\n", "no record id"),
    ],
)
def test_bad_fasta_errors_name_file_record_and_problem(tmp_path, text, message):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        list(read_fasta(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_gzip_is_an_error(tmp_path, records):
    data = gzip.compress(("".join(f">{i}\n{s}\n" for i, s in records) * 50).encode())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        list(read_fasta(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(read_fasta(tmp_path / "nope.fa"))


def test_empty_allowed_when_asked(tmp_path):
    path = tmp_path / "e.fa"
    path.write_text("")
    assert list(read_fasta(path, allow_empty=True)) == []


def test_streaming_reads_lazily(tmp_path):
    # An error late in the file is only seen once iteration reaches it.
    path = tmp_path / "x.fa"
    path.write_text(">a\nACGT\n>b\nAXGT\n")
    records = read_fasta(path)
    assert next(records) == ("a", "ACGT")
    with pytest.raises(DataError):
        next(records)


@given(st.text(alphabet="ACGTNRYSWKMBDHVacgtn", max_size=50))
def test_reverse_complement_is_an_involution(seq):
    assert reverse_complement(reverse_complement(seq)) == seq


def test_reverse_complement_values():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("RYKM") == "KMRY"


@pytest.mark.parametrize("suffix", [".fa", ".fa.gz"])
def test_write_fasta_round_trip(tmp_path, suffix):
    recs = list(zip(["x", "y"], random_sequences(2, 130), strict=True))
    path = tmp_path / f"out{suffix}"
    write_fasta(recs, path, line_width=60)
    assert list(read_fasta(path)) == recs
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 16])
def test_parse_fasta_gives_biopythons_records(monkeypatch, block):
    # Random texts of the characters that matter (headers, blank lines, spaces, tabs and
    # other whitespace, carriage returns, '>' inside lines), read in blocks of every size.
    import io

    from Bio.SeqIO.FastaIO import SimpleFastaParser as biopython

    from seqcnn import fasta_parser

    monkeypatch.setattr(fasta_parser, "_BLOCK", block)
    rng = np.random.default_rng(block)
    alphabet = list("ACGTNacgtn") * 4 + [">", "\n", "\n", " ", "\t", "\r", "\x0c", "\xa0",
                                         "\x85", ";", "x"]  # fmt: skip
    for _ in range(300):
        text = "".join(rng.choice(alphabet, rng.integers(0, 120)))
        if rng.random() < 0.7:
            text = ">" + text
        expected = list(biopython(io.StringIO(text)))
        assert list(fasta_parser.parse_fasta(io.StringIO(text))) == expected, repr(text)
        lines = io.StringIO(text)
        first = lines.readline()
        assert list(fasta_parser.parse_fasta(lines, first)) == expected, repr(text)
