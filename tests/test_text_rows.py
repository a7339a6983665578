"""Table text formatted a column at a time must be byte for byte Python's ``%`` formatting."""

import io

import numpy as np
import pandas as pd
import pytest

from seqcnn.tables import Block, write_frames, write_table
from seqcnn.text_rows import MAX_TEXT_WIDTH, float_field, int_field, join_fields, text_field


def texts(field):
    return [
        bytes(chars[shown]).decode() for chars, shown in zip(field.chars, field.mask, strict=True)
    ]


def python_g(values):
    return [format(v, ".9g") for v in np.asarray(values).tolist()]


def test_float32_every_exponent_as_python_formats_it():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32)
    with np.errstate(invalid="ignore"):
        values = bits.view(np.float32)  # all exponents, denormals, NaN payloads, infinities
    assert texts(float_field(values)) == python_g(values)


def test_probabilities_and_scores_as_python_formats_them():
    rng = np.random.default_rng(2)
    probabilities = (1 / (1 + np.exp(-rng.normal(0, 10, 200_000)))).astype(np.float32)
    scores = rng.normal(0, 1e4, 200_000)
    assert texts(float_field(probabilities)) == python_g(probabilities)
    assert texts(float_field(scores)) == python_g(scores)


def test_float64_and_the_edges_of_each_notation():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**63, 200_000, dtype=np.uint64)
    with np.errstate(invalid="ignore"):
        values = np.concatenate([bits.view(np.float64), -bits[:1000].view(np.float64)])
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-4, 9.999999995e-5, 9.9999999949e-5,
             999999999.5, 999999998.5, 1e9, 123456789.5, 0.5, 1.5, 2.5, 1e-99, 1e99, 5e-324,
             1.7976931348623157e308, 12345678.95, 0.00012345678949999999]  # fmt: skip
    powers = [10.0**k for k in range(-320, 309)] + [
        9.9999999996 * 10.0**k for k in range(-300, 300)
    ]
    for group in (values, np.array(edges), np.array(powers), -np.array(powers)):
        assert texts(float_field(group)) == python_g(group)


def test_rounding_ties_go_to_python_and_come_out_right():
    # Exact ties at the 9th digit: half to even, as Python's correctly rounded formatting.
    ties = np.array([1.0000000005, 1.0000000015, 0.25000000125, 2.0**-30, 3 * 2.0**-31])
    assert texts(float_field(ties)) == python_g(ties)


def test_integers_as_str():
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.integers(-(2**63), 2**63 - 1, 50_000, dtype=np.int64),
                             np.array([0, 1, -1, 9, 10, 2**63 - 1, -(2**63)])])  # fmt: skip
    assert texts(int_field(values)) == [str(v) for v in values.tolist()]
    unsigned = np.array([0, 5, 2**64 - 1], np.uint64)
    assert texts(int_field(unsigned)) == ["0", "5", "18446744073709551615"]


def test_text_kept_as_utf8_and_too_wide_refused():
    values = ["seq1", "", "séq_α1", "a\x00b", "x" * MAX_TEXT_WIDTH]
    assert texts(text_field(values)) == values
    assert text_field(["x" * (MAX_TEXT_WIDTH + 1)]) is None


def test_join_fields_builds_the_lines():
    fields = [text_field(["a", "bb"]), int_field(np.array([3, -4])),
              float_field(np.array([0.1, 2e-7], np.float32))]  # fmt: skip
    assert join_fields(fields, ",") == "a,3,0.100000001\nbb,-4,2.00000002e-07\n"


def python_table(ids, values, start=None, end=None, delimiter="\t"):
    lines = []
    for i, row in enumerate(values.tolist()):
        bounds = [] if start is None else [str(start[i]), str(end[i])]
        lines.append(delimiter.join([ids[i], *bounds, *python_g(row)]) + "\n")
    return "".join(lines)


@pytest.mark.parametrize("per_window", [False, True])
def test_write_table_equals_python_formatting(per_window):
    rng = np.random.default_rng(5)
    n = 3000
    values = rng.random((n, 5)).astype(np.float32)
    values[::7, 1] = 0
    values[::11, 2] = np.nan
    values[::13, 3] = 1e-9
    ids = [f"rec{i}" for i in range(n)]
    ids[10] = "long_" + "x" * (MAX_TEXT_WIDTH + 10)  # this piece is formatted by Python
    ids[20] = "a,b"  # quoted in CSV only
    start = np.arange(n, dtype=np.int64) * 50 if per_window else None
    end = start + 200 if per_window else None
    block = Block(ids, values, start, end) if per_window else Block(ids, values)
    names = [f"o{j}" for j in range(5)]
    for fmt, delimiter in (("tsv", "\t"), ("csv", ",")):
        handle = io.StringIO()
        write_table([block], handle, names, fmt=fmt, per_window=per_window)
        shown = [f'"{i}"' if delimiter in i else i for i in ids]
        header = delimiter.join(["id", *(["start", "end"] if per_window else []), *names])
        assert handle.getvalue() == header + "\n" + python_table(shown, values, start, end,
                                                                 delimiter)  # fmt: skip


def test_write_frames_equals_python_formatting(tmp_path):
    rng = np.random.default_rng(6)
    n = 2000
    frame = pd.DataFrame({
        "chrom": ["chr20"] * n,
        "pos": rng.integers(1, 63_000_000, n),
        "id": [f"rs{i}" for i in range(n)],
        "score": rng.normal(0, 1, n).astype(np.float32),
    })  # fmt: skip
    columns = list(frame.columns)
    quoted = frame.copy()
    quoted.loc[5, "id"] = 'rs"5"'  # this frame goes through the csv module
    out = tmp_path / "effects.tsv"
    write_frames([frame, quoted], out, columns, text_columns=["chrom", "pos", "id"])
    expected = ["\t".join(columns)]
    for part in (frame, quoted):
        for row in part.itertuples(index=False):
            ident = '"rs""5"""' if row.id == 'rs"5"' else row.id
            expected.append(f"{row.chrom}\t{row.pos}\t{ident}\t{format(row.score, '.9g')}")
    assert out.read_text() == "\n".join(expected) + "\n"
