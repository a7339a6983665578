"""Per-position labels of a planted-motif data set (``seqcnn simulate --per-position``).

The planted instances of :func:`seqcnn.simulate.simulate` are per-base labels too:

* ``segmentation``: a 0/1 mask per motif over each instance's bases
  (:func:`instance_masks`; written as sites, ``<prefix>_sites.tsv``, for
  ``seqcnn encode --sites``);
* ``profile``: read counts around each instance (:func:`simulate_profiles`; written as
  ``<prefix>_counts.npz`` for ``seqcnn encode --labels-npy ... --task profile``, with the
  true rates beside them in ``<prefix>_rates.npz``).

The profile model: an instance of motif ``t`` centred at ``c`` (the middle of its bases)
adds to track ``t`` the expected counts ``s * f(x - c)`` at base ``x``, with the two-peak
footprint of ChIP-nexus/ChIP-exo data that BPNet models,
``f(u) = (N(u; -d, sigma) + N(u; d, sigma)) / 2`` (normal densities; ``d = 10`` and
``sigma = 3`` bases by default; cut ``d + 5 sigma`` bases from the centre; the part of a
footprint beyond the sequence's ends is lost).  Its strength ``s = strength * a`` is set by
the instance's *affinity* ``a = exp(mean_j log(p_j(b_j) / max_b p_j(b)))``, the geometric
mean over its bases ``b_j`` of their probability in the motif's matrix relative to the best
base's (1 for the consensus).  Every base has ``background`` expected counts besides.  The
counts are independent Poisson draws of these rates; the rates are the truth a model is
measured against.  Tracks follow ``data.motif_names``.

Example
-------
>>> from seqcnn.simulate import simulate
>>> data = simulate(n_sequences=50, motifs=["YY1", "SP1"], seed=1)
>>> instance_masks(data).shape, simulate_profiles(data, seed=1).counts.dtype
((50, 2, 200), dtype('uint16'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._io import atomic_path
from .errors import DataError, UsageError
from .simulate import SimulatedData
from .sites import rasterise

__all__ = ["SimulatedProfiles", "instance_masks", "simulate_profiles", "write_per_position"]

_BASES = b"ACGT"


@dataclass(eq=False)
class SimulatedProfiles:
    """Read-count profiles of a planted-motif data set, from :func:`simulate_profiles`.

    Attributes
    ----------
    rates
        ``float32 (N, T, L)``: the expected counts per base, a track per motif.
    counts
        ``uint16 (N, T, L)`` (``int32`` if a count does not fit): Poisson draws of ``rates``.
    names
        The track names, ``data.motif_names``.
    affinity
        The affinity of each planted instance (the rows of ``data.instances``), in ``(0, 1]``.
    """

    rates: np.ndarray
    counts: np.ndarray
    names: list[str]
    affinity: np.ndarray


def instance_masks(data: SimulatedData) -> np.ndarray:
    """``uint8 (N, T, L)``: 1 on the bases of each planted instance, a track per motif in
    the order of ``data.motif_names``."""
    table = data.instances
    shape = (len(data.ids), len(data.motif_names), _length(data))
    return rasterise(_rows(data), _tracks(data), table["start"], table["end"], shape)


def simulate_profiles(
    data: SimulatedData,
    *,
    strength: float = 100.0,
    background: float = 0.01,
    offset: float = 10.0,
    sigma: float = 3.0,
    seed: int | np.random.Generator | None = 0,
) -> SimulatedProfiles:
    """Read counts around the planted instances (see the module docs for the model).

    Parameters
    ----------
    data
        The data set from :func:`seqcnn.simulate.simulate`.
    strength
        Expected counts of an instance of affinity 1 (the consensus).
    background
        Expected counts of every base besides the instances'.
    offset, sigma
        The footprint: its two peaks ``offset`` bases either side of the instance's
        centre, each a normal density with standard deviation ``sigma``.
    seed
        Seed or generator of the Poisson draws.

    Returns
    -------
    SimulatedProfiles
    """
    if not (strength >= 0 and background >= 0 and offset >= 0 and sigma > 0):
        raise UsageError("strength and background must be >= 0, offset >= 0 and sigma > 0")
    length = _length(data)
    table = data.instances
    affinity = _affinity(data)
    shape = (len(data.ids), len(data.motif_names), length)
    rates = np.full(shape, background, np.float32)
    centre = (table["start"].to_numpy() + table["end"].to_numpy() - 1) / 2
    reach = offset + 5 * sigma  # beyond this the footprint is < 4e-6 of its peak: cut
    x = np.floor(centre).astype(np.int64)[:, None] + np.arange(-int(reach) - 1, int(reach) + 2)
    u = x - centre[:, None]
    peaks = np.exp(-0.5 * ((u + offset) / sigma) ** 2) + np.exp(-0.5 * ((u - offset) / sigma) ** 2)
    added = strength * affinity[:, None] * peaks / (2 * sigma * np.sqrt(2 * np.pi))
    inside = (x >= 0) & (x < length) & (np.abs(u) <= reach)
    rows = np.broadcast_to(_rows(data)[:, None], x.shape)[inside]
    tracks = np.broadcast_to(_tracks(data)[:, None], x.shape)[inside]
    np.add.at(rates, (rows, tracks, x[inside]), added[inside].astype(np.float32))
    rng = np.random.default_rng(seed)
    counts = np.empty(shape, dtype=np.uint16)
    step = max(1, (1 << 20) // max(1, shape[1] * shape[2]))  # rows drawn at a time
    for a in range(0, shape[0], step):
        drawn = rng.poisson(rates[a : a + step])
        if counts.dtype == np.uint16 and drawn.max(initial=0) > np.iinfo(np.uint16).max:
            counts = counts.astype(np.int32)
        counts[a : a + step] = drawn
    return SimulatedProfiles(rates, counts, list(data.motif_names), affinity)


def write_per_position(
    data: SimulatedData,
    out: str | os.PathLike,
    prefix: str = "planted",
    *,
    profiles: SimulatedProfiles | None = None,
) -> dict[str, Path]:
    """Write the per-position labels of a simulated data set beside its FASTA.

    Parameters
    ----------
    data
        The data set (written by :func:`seqcnn.simulate.write_simulation`).
    out, prefix
        The folder and file name prefix, as for ``write_simulation``.
    profiles
        Profiles to write too (:func:`simulate_profiles`).

    Returns
    -------
    dict
        ``{"sites": <prefix>_sites.tsv}`` (``id, start, end, label``; the label is the
        motif), and with ``profiles`` ``"counts": <prefix>_counts.npz`` and
        ``"rates": <prefix>_rates.npz``, each with the arrays ``labels`` ``(N, T, L)`` and
        ``names``.

    Examples
    --------
    >>> from seqcnn.simulate import simulate, write_simulation
    >>> data = simulate(n_sequences=100, seed=1)
    >>> paths = write_simulation(data, "planted")  # planted/planted.fa, ...
    >>> sorted(write_per_position(data, "planted", profiles=simulate_profiles(data)))
    ['counts', 'rates', 'sites']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"sites": out / f"{prefix}_sites.tsv"}
    sites = data.instances[["id", "start", "end", "motif"]].rename(columns={"motif": "label"})
    # grouped by motif in motif order, so that encode's tracks (labels in order of first
    # appearance) follow data.motif_names, as the profiles' do
    sites = sites.iloc[np.argsort(_tracks(data), kind="stable")]
    try:
        with atomic_path(paths["sites"]) as tmp:
            tmp.write_text(sites.to_csv(sep="\t", index=False), encoding="utf-8")
        if profiles is not None:
            names = np.array(profiles.names)
            for key, array in (("counts", profiles.counts), ("rates", profiles.rates)):
                paths[key] = out / f"{prefix}_{key}.npz"
                with atomic_path(paths[key]) as tmp, open(tmp, "wb") as handle:
                    np.savez_compressed(handle, labels=array, names=names)
    except OSError as err:
        raise DataError(f"cannot write: {err.strerror or err}", path=str(out)) from err
    return paths


def _length(data: SimulatedData) -> int:
    return len(data.sequences[0]) if data.sequences else 0


def _rows(data: SimulatedData) -> np.ndarray:
    import pandas as pd

    return pd.Index(data.ids).get_indexer(data.instances["id"].to_numpy())


def _tracks(data: SimulatedData) -> np.ndarray:
    import pandas as pd

    return pd.Index(data.motif_names).get_indexer(data.instances["motif"].to_numpy())


def _affinity(data: SimulatedData) -> np.ndarray:
    """Each instance's geometric-mean base probability relative to its motif's best."""
    table = data.instances
    affinity = np.ones(len(table))
    if not len(table):
        return affinity
    letters = np.frombuffer("".join(data.sequences).encode(), dtype=np.uint8)
    lookup = np.zeros(256, dtype=np.int64)
    lookup[list(_BASES)] = np.arange(4)
    starts = _rows(data) * _length(data) + table["start"].to_numpy()
    reverse = (table["strand"] == "-").to_numpy()
    motif = table["motif"].to_numpy()
    for name, pfm in data.motifs.items():
        sel = np.flatnonzero(motif == name)
        if not sel.size:
            continue
        bases = lookup[letters[starts[sel, None] + np.arange(pfm.shape[0])]]
        bases[reverse[sel]] = 3 - bases[reverse[sel], ::-1]  # back on the matrix's strand
        with np.errstate(divide="ignore"):
            relative = np.log(pfm / pfm.max(axis=1, keepdims=True))
        affinity[sel] = np.exp(relative[np.arange(pfm.shape[0]), bases].mean(axis=1))
    return affinity
