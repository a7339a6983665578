"""The scoring logic of benchmarks/per_position.py (issue 17's acceptance runs): the per-base
known-PWM oracle, the validation threshold and the peak bookkeeping, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("per_position")


def one_hot(codes: np.ndarray) -> np.ndarray:
    return np.eye(4, dtype=np.float64)[codes].transpose(0, 2, 1)


def test_oracle_matches_brute_force_and_finds_the_instance(bench):
    rng = np.random.default_rng(0)
    consensus = [0, 2, 3, 1, 1, 0]  # AGTCCA; reverse complement TGGACT
    pfm = np.full((6, 4), 0.05)
    pfm[np.arange(6), consensus] = 0.85
    codes = rng.integers(0, 4, size=(3, 20))
    codes[1, 8:14] = consensus
    codes[2, 4:10] = [3, 2, 2, 0, 1, 3]
    x = one_hot(codes)
    prior = 0.01
    got = bench.per_base_oracle(x, pfm, prior)
    width, length = 6, 20
    log_odds = np.log(pfm / 0.25)
    rc = log_odds[::-1, ::-1]
    for n in range(3):
        llr = np.array(
            [
                [sum(m[i, codes[n, s + i]] for i in range(width)) for m in (log_odds, rc)]
                for s in range(length - width + 1)
            ]
        )  # (starts, strands)
        q = prior * np.exp(llr).mean(1) / (1 - prior + prior * np.exp(llr).mean(1))
        for base in range(length):
            covering = range(max(0, base - width + 1), min(base, length - width) + 1)
            assert got["max_llr"][n, base] == pytest.approx(max(llr[s].max() for s in covering))
            expected = -sum(np.log(1 - q[s]) for s in covering)
            assert got["posterior"][n, base] == pytest.approx(expected)
    # The planted bases rank first on both strands.
    for key in ("max_llr", "posterior"):
        assert set(np.argsort(-got[key][1])[:6]) == set(range(8, 14))
        assert set(np.argsort(-got[key][2])[:6]) == set(range(4, 10))


def test_threshold_keeps_the_largest_recall_at_the_precision(bench):
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    s = np.array([9, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    # calls >= 6: 3/4 precise; >= 3: 4/7 >= 0.5; >= 2: 4/8 = 0.5 still
    assert bench.threshold_at_precision(y, s, 0.5) == 2.0
    assert bench.threshold_at_precision(y, s, 0.7) == 6.0
    assert bench.threshold_at_precision(y, s, 1.0) == 8.0
    # tied scores are called together: {5, 5, 5} holds one positive of three
    tied = np.array([9, 5, 5, 5, 1], dtype=float)
    assert bench.threshold_at_precision(np.array([1, 1, 0, 0, 1]), tied, 0.75) == 9.0
    assert bench.threshold_at_precision(np.zeros(3), np.arange(3.0), 0.5) == np.inf


def test_tiles_holding_peaks_and_peak_maxima(bench):
    peaks = np.array([[1_950, 2_050], [7_000, 7_100]])
    starts = np.array([0, 2_000, 4_000, 6_000, 8_000])
    assert bench.holds_peak(starts, peaks).tolist() == [True, True, False, True, False]
    track = bench.part_track(
        np.array([2_000, 6_000]), np.arange(2 * 2_000.0).reshape(2, -1), 0, 8_000
    )
    assert np.isnan(track[:2_000]).all() and track[2_000] == 0 and track[6_000] == 2_000
    # the first peak is seen only on its bases inside tiles; a peak outside is NaN
    maxima = bench.peak_maxima(track, 0, np.r_[peaks, [[100, 200]]])
    assert maxima[0] == 49 and maxima[1] == 2_000 + 1_099 and np.isnan(maxima[2])
    rng = np.random.default_rng(1)
    chosen = bench.sample_tiles(starts, peaks, 0.5, rng)  # 3 peak tiles, int(1.5) others
    assert len(chosen) == 4 and {2_000, 6_000, 0} <= set(chosen.tolist())
    assert np.all(np.diff(chosen) > 0)
    assert bench.sample_tiles(starts, peaks, 5.0, rng).tolist() == starts.tolist()
