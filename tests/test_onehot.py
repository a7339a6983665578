import numpy as np
import pytest
import torch
from conftest import random_sequences
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seqcnn.alphabet import N_ENCODINGS, ONE_HOT_TABLES
from seqcnn.errors import DataError, UsageError
from seqcnn.fasta import reverse_complement
from seqcnn.onehot import (
    codes_to_one_hot,
    decode,
    encode_sequences,
    one_hot,
    rc,
    reverse_complement_codes,
)

dna = st.text(alphabet="ACGT", min_size=1, max_size=60)


def test_channel_order_and_shape():
    x = one_hot(["ACGT", "TTTT"])
    assert x.shape == (2, 4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.eye(4, dtype=np.float32))
    np.testing.assert_array_equal(x[1, 3], np.ones(4))


@pytest.mark.parametrize(
    "policy, column",
    [
        ("zeros", [0, 0, 0, 0]),
        ("uniform", [0.25] * 4),
        ("iupac", [0.25] * 4),
    ],
)
def test_n_encoding(policy, column):
    np.testing.assert_allclose(one_hot("N", n_encoding=policy)[0, :, 0], column)


def test_iupac_probabilities():
    x = one_hot("RYSWKMBDHV", n_encoding="iupac")[0].T
    third = 1 / 3
    expected = [
        [0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [0, 0.5, 0.5, 0], [0.5, 0, 0, 0.5],
        [0, 0, 0.5, 0.5], [0.5, 0.5, 0, 0], [0, third, third, third], [third, 0, third, third],
        [third, third, 0, third], [third, third, third, 0],
    ]  # fmt: skip
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    np.testing.assert_allclose(x.sum(axis=1), 1, rtol=1e-6)


def test_lower_case_and_u():
    np.testing.assert_array_equal(one_hot("acgu"), one_hot("ACGT"))


@given(dna)
def test_decode_inverts_one_hot(seq):
    assert decode(one_hot(seq)) == [seq]


@given(st.lists(dna, min_size=1, max_size=5))
def test_rc_twice_is_identity_and_matches_string_rc(seqs):
    length = max(map(len, seqs))
    x = one_hot(seqs, length=length)
    np.testing.assert_array_equal(rc(rc(x)), x)
    padded = decode(x)
    assert decode(rc(x)) == [reverse_complement(s) for s in padded]


def test_rc_torch_tensor():
    x = torch.from_numpy(one_hot(["AACG"]))
    assert decode(rc(x).numpy()) == ["CGTT"]


def test_reverse_complement_codes_handles_ambiguity():
    codes = encode_sequences(["ARKN"])
    assert decode(codes_to_one_hot(reverse_complement_codes(codes), "zeros")) == ["NNNT"]
    from seqcnn.onehot import codes_to_strings

    assert codes_to_strings(reverse_complement_codes(codes)) == ["NMYT"]


def test_reverse_complement_codes_same_for_every_integer_type_and_layout():
    codes = np.random.default_rng(0).integers(0, 15, size=(6, 40)).astype(np.uint8)
    by_table = reverse_complement_codes(codes.astype(np.int64))  # the table look-up
    by_bytes = reverse_complement_codes(codes)  # bytes.translate
    assert by_bytes.dtype == np.uint8 and by_bytes.flags.writeable
    np.testing.assert_array_equal(by_bytes, by_table)
    np.testing.assert_array_equal(
        reverse_complement_codes(codes[:, ::3]), by_table[:, ::-3][:, ::-1]
    )
    np.testing.assert_array_equal(reverse_complement_codes(by_bytes), codes)  # an involution


@pytest.mark.parametrize(
    "crop, expected",
    [("center", "CGTA"), ("left", "ACGT"), ("right", "GTAC")],
)
def test_crop(crop, expected):
    assert decode(one_hot("ACGTAC", length=4, crop=crop)) == [expected]


@pytest.mark.parametrize(
    "crop, expected",
    [("center", "NACNN"), ("left", "ACNNN"), ("right", "NNNAC")],
)
def test_pad_with_n(crop, expected):
    x = one_hot("AC", length=5, crop=crop)
    assert decode(x) == [expected]
    assert x[0].sum() == 2  # N padding is all zero by default


def test_mixed_lengths_need_length():
    with pytest.raises(
        DataError, match=r"record '#2': length 2 differs from the 3 bases of '#1'.*--length"
    ):
        one_hot(["ACG", "AC"])
    assert one_hot(["ACG", "AC"], length=3).shape == (2, 4, 3)


def test_invalid_letter_names_position_and_record():
    with pytest.raises(DataError, match=r"record 'b': invalid letter 'Z' at position 2"):
        encode_sequences(["AC", "AZ"], ids=["a", "b"])
    with pytest.raises(DataError, match="invalid letter 'é' at position 3"):
        one_hot("ACé")


def test_bad_options():
    with pytest.raises(UsageError, match="unknown N encoding"):
        one_hot("A", n_encoding="half")
    with pytest.raises(UsageError, match="unknown crop mode"):
        one_hot("A", length=3, crop="middle")


def test_batch_encoding_equals_per_sequence():
    seqs = random_sequences(50, 33, seed=3)
    together = encode_sequences(seqs)
    alone = np.concatenate([encode_sequences([s]) for s in seqs])
    np.testing.assert_array_equal(together, alone)


def table_one_hot(codes: np.ndarray, n_encoding: str) -> np.ndarray:
    """The plain reference: one table look-up per channel."""
    table = ONE_HOT_TABLES[n_encoding]
    out = np.empty((*codes.shape[:-1], 4, codes.shape[-1]), dtype=np.float32)
    for channel in range(4):
        out[..., channel, :] = table[:, channel][codes]
    return out


@settings(max_examples=300, deadline=None)
@given(
    codes=hnp.arrays(
        np.uint8,
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=9),
        elements=st.integers(0, 14),
    ),
    n_encoding=st.sampled_from(N_ENCODINGS),
)
def test_codes_to_one_hot_equals_table_lookup(codes, n_encoding):
    # Bases by comparison, N and IUPAC codes patched from the table: the same bits.
    x = codes_to_one_hot(codes, n_encoding)
    expected = table_one_hot(codes, n_encoding)
    assert x.dtype == np.float32 and x.shape == expected.shape
    assert x.tobytes() == expected.tobytes()


@pytest.mark.parametrize("n_encoding", N_ENCODINGS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.int32])
def test_codes_to_one_hot_any_integer_codes(n_encoding, dtype):
    codes = np.random.default_rng(0).integers(0, 15, (3, 2, 50)).astype(dtype)
    expected = table_one_hot(codes, n_encoding)
    np.testing.assert_array_equal(codes_to_one_hot(codes, n_encoding), expected)
    np.testing.assert_array_equal(
        codes_to_one_hot(codes[0, 0].tolist(), n_encoding), expected[0, 0]
    )
    strided = codes[..., ::2]  # not contiguous
    np.testing.assert_array_equal(
        codes_to_one_hot(strided, n_encoding), table_one_hot(strided, n_encoding)
    )


def test_codes_to_one_hot_rejects_codes_past_the_table():
    with pytest.raises(IndexError):
        codes_to_one_hot(np.array([[0, 255]], dtype=np.uint8))


@pytest.mark.parametrize("n_encoding", N_ENCODINGS)
def test_cpu_batches_equal_table_lookup(n_encoding):
    from seqcnn.forward import OneHotBatches

    codes = np.random.default_rng(1).integers(0, 15, (8, 300)).astype(np.uint8)
    x = OneHotBatches(torch.device("cpu"), n_encoding)(codes)
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), table_one_hot(codes, n_encoding))
