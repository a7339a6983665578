"""seqcnn.tables: prediction tables written and read in every format."""

from __future__ import annotations

import numpy as np
import pytest

from seqcnn.errors import DataError, UsageError
from seqcnn.tables import Block, read_table, table_format, value_columns, write_table

IDS = ["séq_α1", "序列", 'a,"b"', "NA"]


def blocks(per_window: bool):
    values = np.arange(8, dtype=np.float32).reshape(4, 2) / 3
    if per_window:
        return [Block(IDS[:2], values[:2], np.array([0, 5]), np.array([10, 15])),
                Block(IDS[2:], values[2:], np.array([0, 0]), np.array([10, 10]))]  # fmt: skip
    return [Block(IDS[:2], values[:2]), Block(IDS[2:], values[2:])]


@pytest.mark.parametrize("per_window", [False, True])
@pytest.mark.parametrize("name", ["t.tsv", "t.csv", "t.tsv.gz", "t.csv.gz", "t.parquet"])
def test_every_format_reads_back_exactly(tmp_path, name, per_window):
    fmt, compress = table_format(tmp_path / name)
    out = tmp_path / name
    rows = write_table(blocks(per_window), out, ["x", "y"], fmt=fmt, compress=compress,
                       per_window=per_window)  # fmt: skip
    table = read_table(out)
    assert rows == 4 and table["id"].tolist() == IDS
    values = np.concatenate([b.values for b in blocks(per_window)])
    np.testing.assert_array_equal(table[["x", "y"]].to_numpy(np.float32), values)
    if per_window:
        assert table["start"].tolist() == [0, 5, 0, 0]


def test_formats_from_names():
    assert table_format("a.TSV") == ("tsv", False)
    assert table_format(None) == ("tsv", False)
    assert table_format("-", "csv") == ("csv", False)
    with pytest.raises(UsageError, match="drop the .gz"):
        table_format("a.parquet.gz")
    with pytest.raises(UsageError, match="cannot tell the input format"):
        table_format("a.xlsx", kind="input")
    with pytest.raises(UsageError, match="needs a file name"):
        table_format(None, "parquet")


def test_value_columns_follow_the_output_shape():
    assert value_columns(["a", "b"], (2,)) == ["a", "b"]
    with pytest.raises(UsageError, match=r"shape \(2, 100\)"):
        value_columns(["a", "b"], (2, 100))
    with pytest.raises(UsageError, match="gives 3 outputs"):
        value_columns(["a", "b"], (3,))


def test_not_a_table(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("name\tvalue\n")
    with pytest.raises(DataError, match="not a prediction table"):
        read_table(path)
