"""Genome.read_ahead: ranges read once, in runs, then cut into windows and ranges that
equal single fetches (plain and bgzip genomes, ranges off the contig's ends padded)."""

from __future__ import annotations

import numpy as np
from test_genome import genome_file  # noqa: F401

import seqcnn.genome as genome_module
from seqcnn.genome import Genome


def test_windows_and_codes_equal_single_fetches(genome_file):  # noqa: F811
    genome = Genome(genome_file)
    rng = np.random.default_rng(1)
    starts = rng.integers(-30, 1000, 120)
    ends = starts + rng.integers(0, 80, 120)
    ahead = genome.read_ahead("chr1", starts, ends)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        np.testing.assert_array_equal(ahead.codes(s, e), genome.fetch_codes("chr1", s, e))
    windows = ahead.windows(np.r_[starts, [-40, 990, 500]], 25)  # the last ones: read apart
    for s, row in zip(np.r_[starts, [-40, 990, 500]].tolist(), windows, strict=True):
        np.testing.assert_array_equal(row, genome.fetch_codes("chr1", s, s + 25))
    empty = genome.read_ahead("chr2", [], [])
    np.testing.assert_array_equal(empty.windows([3, 700], 10),
                                  genome.window_codes("chr2", [3, 700], 10))  # fmt: skip


def test_ranges_are_read_once_in_runs(genome_file, monkeypatch):  # noqa: F811
    genome = Genome(genome_file)
    reads = []
    raw = genome._raw

    def counted(contig, start, end):
        reads.append((start, end))
        return raw(contig, start, end)

    monkeypatch.setattr(genome, "_raw", counted)
    monkeypatch.setattr(genome_module, "_AHEAD_GAP_BASES", 50)
    # overlapping and unsorted ranges: one run; a range 100 bases away: another
    genome.read_ahead("chr1", [300, 100, 120, 500], [340, 200, 310, 520])
    assert reads == [(100, 340), (500, 520)]
