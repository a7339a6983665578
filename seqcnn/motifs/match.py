"""Known motifs (JASPAR via pyjaspar) and Tomtom matching (memelite).

What memelite's Tomtom computes, and what is used here
-----------------------------------------------------
``memelite.tomtom`` implements Tomtom's "complete score" (Gupta et al. 2007) with one
column similarity only: the negative **Euclidean distance** between two columns.  Each
query column is scored against every column of every target; that row of scores, minus
its median, is binned, and the binned rows of all query columns are convolved (dynamic
programming over all overlaps) into the null distribution of an alignment score.  The
p-value of a (query, target) pair is that of its best-scoring overlap; over both strands
it is ``1 - (1 - p_min)**2``.  The null comes from the target columns, which is why
Tomtom wants a whole database (memelite warns below 25 targets).

Published filter-annotation recipes (Basset; Koo & Eddy 2019) run MEME's ``tomtom
-dist pearson``.  :func:`match_motifs` does the same by default (``metric="pearson"``):
every column, of query and target alike, is centred on its mean and scaled to unit
length before it is handed to memelite.  For such columns the Euclidean distance is
``sqrt(2 * (1 - r))`` with ``r`` the Pearson correlation of the two columns, so memelite's
Tomtom machinery runs unchanged on a per-column score that is a monotone function of
Pearson's ``r``.  (An exactly uniform column becomes the zero vector: the same distance,
1, to every non-uniform column, so it adds nothing.)  Measured on JASPAR CORE vertebrates
(150 JASPAR matrices resampled from 100 sites as queries, 150 random PWMs), this is
much better than raw Euclidean distance on probabilities, which memelite uses when
given probabilities (``metric="euclidean"``):

- Euclidean distance rewards flat-against-flat columns, so a uniform or weak query
  aligns with the flat spacers and flanks of long targets (two 31-33 bp CTCF matrices
  soak up random queries): a uniform 10-column PWM got p ~ 1e-14, and 25-85 % of random
  PWMs had a match with q < 0.05.  With Pearson: about 5 %, the nominal rate.
- A query diluted towards uniform (``0.5 * pwm + 0.5 * 0.25``, as weakly learned filters
  look) still found its own matrix in 131 of 150 cases with Pearson, 14 with Euclidean.

As a guard on top, each query is trimmed of low-information edges (:func:`trim_pwm`,
``min_ic``) and a query with less than ``min_total_ic`` bits left is not matched at all,
so a uniform or near-uniform PWM is never reported.

q-values are Benjamini-Hochberg over all targets of one query (MEME's Tomtom also
estimates q-values per query), and the E-value is ``p * number of targets``.

Threads
-------
memelite's kernels are parallel numba code.  On numba's OpenMP threading layer they reset
the process-wide OpenMP thread count, which torch shares: every later torch call in the
process would run 4-20x slower.  :func:`match_motifs` therefore asks numba for its
``workqueue`` layer (unless the user chose one) and puts torch's thread count back after
matching, so callers may mix matching and network work in any order.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.alphabet import ALPHABET
from seqcnn.errors import UsageError

from .meme import read_meme
from .pwm import FilterMotif, _as_pwm, _named_pwms, _normalised, information_content, trim_pwm

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MATCH_COLUMNS", "MATCH_DTYPES", "jaspar_motifs", "match_motifs", "no_matches"]

#: Columns of a match table, in order.
MATCH_COLUMNS = [
    "filter",
    "rank",
    "match_id",
    "match_name",
    "p_value",
    "e_value",
    "q_value",
    "offset",
    "strand",
    "overlap",
]
#: dtype of each column of a match table.
MATCH_DTYPES = {
    "filter": "str",
    "rank": "int64",
    "match_id": "str",
    "match_name": "str",
    "p_value": "float64",
    "e_value": "float64",
    "q_value": "float64",
    "offset": "int64",
    "strand": "str",
    "overlap": "int64",
}


def no_matches() -> pd.DataFrame:
    """An empty match table: the columns and dtypes of :func:`match_motifs`, no rows.

    Examples
    --------
    >>> list(no_matches().columns) == MATCH_COLUMNS
    True
    """
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=MATCH_DTYPES[c]) for c in MATCH_COLUMNS})


# ---------------------------------------------------------------------------- JASPAR


def jaspar_motifs(
    collection: str = "CORE",
    tax_group: str | None = "vertebrates",
    release: str | None = None,
    all_versions: bool = False,
) -> dict[str, np.ndarray]:
    """Known motifs from the JASPAR database shipped with pyjaspar (no network).

    By default only the latest version of each matrix (JASPAR's non-redundant set).
    Loading takes a couple of seconds, so the result is cached per arguments.

    Parameters
    ----------
    collection
        JASPAR collection, e.g. ``"CORE"`` or ``"UNVALIDATED"``.
    tax_group
        e.g. ``"vertebrates"``, ``"insects"``, ``"plants"``; ``None`` for all.
    release
        e.g. ``"JASPAR2024"``; the newest release pyjaspar ships by default.
    all_versions
        Also the older versions of each matrix (``MA0477.1`` next to ``MA0477.3``), e.g.
        to recognise motifs taken from an older release.

    Returns
    -------
    dict
        ``"MA0139.2 CTCF" -> (w, 4)`` probabilities (read-only arrays).

    Examples
    --------
    >>> jaspar_motifs()["MA0139.2 CTCF"].shape     # doctest: +SKIP
    (19, 4)
    """
    return dict(_jaspar_motifs(collection, tax_group, release, bool(all_versions)))


@functools.lru_cache(maxsize=8)
def _jaspar_motifs(
    collection: str, tax_group: str | None, release: str | None, all_versions: bool
) -> dict[str, np.ndarray]:
    import pyjaspar

    release = release or pyjaspar.JASPAR_LATEST_RELEASE
    if release not in pyjaspar.jaspar_releases:
        raise UsageError(
            f"unknown JASPAR release {release!r}; pyjaspar ships "
            + ", ".join(sorted(pyjaspar.jaspar_releases))
        )
    try:
        pyjaspar.get_jaspardb_path(pyjaspar.jaspar_releases[release])
    except ValueError as error:
        raise UsageError(f"the {release} database is missing from pyjaspar ({error})") from None
    db = pyjaspar.jaspardb(release=release)
    try:
        records = db.fetch_motifs(
            collection=collection, tax_group=tax_group, all_versions=all_versions
        )
    finally:
        db.conn.close()
    motifs = {}
    for record in records:
        counts = np.array([record.counts[b] for b in ALPHABET], dtype=np.float64).T
        pwm = _normalised(counts)
        pwm.flags.writeable = False
        motifs[f"{record.matrix_id} {record.name}"] = pwm
    if not motifs:
        raise UsageError(f"no JASPAR {release} motifs in collection {collection!r}, {tax_group!r}")
    return motifs


# -------------------------------------------------------------------------- matching


def match_motifs(
    motifs: Sequence[FilterMotif] | Mapping[str, np.ndarray],
    database: str | os.PathLike | Mapping[str, np.ndarray] = "jaspar",
    n_matches: int = 3,
    q_threshold: float | None = 0.05,
    min_ic: float = 0.1,
    min_total_ic: float = 2.0,
    metric: str = "pearson",
) -> pd.DataFrame:
    """Find known motifs similar to each PWM with Tomtom (memelite).

    See the module docstring for the column similarity (Pearson correlation, by default),
    the p-values (Tomtom's complete score, both strands) and the q-values
    (Benjamini-Hochberg over all targets of a query).  torch's thread count is the same
    after the call as before, whatever memelite's numba kernels do.

    Each query is trimmed of edge positions below ``min_ic`` bits first; a query with
    less than ``min_total_ic`` bits left is not matched (uninformative PWMs match
    everything a little and nothing really).

    Parameters
    ----------
    motifs
        From :func:`seqcnn.motifs.filter_pwms` (only exported ones are matched), or a dict
        of ``(w, 4)`` probability matrices.
    database
        ``"jaspar"`` (JASPAR CORE vertebrates, latest release), the path of a MEME file,
        or a dict ``"id name" -> (w, 4)`` probabilities.  Use a whole database: the
        p-values are computed against the columns of all targets.
    n_matches
        Best matches kept per query.
    q_threshold
        Keep matches with ``q_value <= q_threshold``; ``None`` keeps all.
    min_ic, min_total_ic
        Trimming threshold per position and minimum total information in bits.
    metric
        Column similarity: ``"pearson"`` (correlation, as MEME's ``tomtom -dist
        pearson``) or ``"euclidean"`` (memelite's distance between probabilities).

    Returns
    -------
    pandas.DataFrame
        One row per (query, rank), best first, with columns ``filter`` (the query name,
        e.g. ``"filter_12"``), ``rank`` (1 = best), ``match_id`` (``"MA0139.2"``),
        ``match_name`` (``"CTCF"``), ``p_value``, ``e_value``, ``q_value``, ``offset``
        (position in the target, read on the matched strand, aligned with the first
        column of the untrimmed query; negative when the query starts before it),
        ``strand`` (``"+"``, or ``"-"`` when the query matches the target's reverse
        complement) and ``overlap`` (aligned columns).  :data:`MATCH_COLUMNS` and
        :data:`MATCH_DTYPES` list them.

    Examples
    --------
    >>> table = match_motifs(filter_pwms(model, x))   # doctest: +SKIP
    >>> table.loc[table["rank"] == 1, ["filter", "match_name", "q_value"]]  # doctest: +SKIP
    """
    import pandas as pd

    if n_matches < 1:
        raise UsageError(f"n_matches must be at least 1, got {n_matches}")
    if metric not in _COLUMN_TRANSFORMS:
        raise UsageError(f"unknown metric {metric!r}; choose pearson or euclidean")
    columns = _COLUMN_TRANSFORMS[metric]
    targets = _targets(database)
    target_names = list(targets)
    target_arrays = [columns(targets[name]) for name in target_names]

    names, queries, shifts = [], [], []
    for name, (pwm, _, _) in _named_pwms(motifs).items():
        trimmed, shift = trim_pwm(_normalised(pwm), min_ic=min_ic)
        total = information_content(trimmed).sum() if len(trimmed) else 0.0
        if total > 0 and total >= min_total_ic:
            names.append(name)
            queries.append(columns(trimmed))
            shifts.append(shift)
    if not queries:
        return no_matches()

    with _torch_threads_kept():
        from memelite import tomtom

        p_values, _, offsets, overlaps, strands = tomtom(queries, target_arrays)
    q_values = _benjamini_hochberg(p_values)
    rows = []
    for i, name in enumerate(names):
        order = np.argsort(p_values[i], kind="stable")[:n_matches]
        for rank, j in enumerate(order, start=1):
            if q_threshold is not None and q_values[i, j] > q_threshold:
                break
            match_id, _, match_name = target_names[j].partition(" ")
            rows.append(
                {
                    "filter": name,
                    "rank": rank,
                    "match_id": match_id,
                    "match_name": match_name,
                    "p_value": float(p_values[i, j]),
                    "e_value": float(p_values[i, j] * len(target_names)),
                    "q_value": float(q_values[i, j]),
                    "offset": int(offsets[i, j]) - shifts[i],
                    "strand": "-" if strands[i, j] else "+",
                    "overlap": int(overlaps[i, j]),
                }
            )
    table = pd.DataFrame(rows, columns=MATCH_COLUMNS)
    return table.astype(MATCH_DTYPES)


@contextmanager
def _torch_threads_kept() -> Iterator[None]:
    """Run numba code without changing the thread count torch computes with after it.

    Numba reads ``NUMBA_THREADING_LAYER`` when its first parallel kernel runs; the
    ``workqueue`` layer does not touch OpenMP.  Where a layer was already chosen (by the
    user, or by earlier numba work in the process), torch's count is restored instead.
    """
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    torch = sys.modules.get("torch")  # not imported: nothing of torch's to protect
    threads = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        # Set even when it reads the same: set_num_threads re-applies the count to OpenMP.
        if threads is not None:
            torch.set_num_threads(threads)


def _probability_columns(pwm: np.ndarray) -> np.ndarray:
    """``(w, 4)`` probabilities -> the ``(4, w)`` float64 layout memelite reads."""
    return np.ascontiguousarray(pwm.T, dtype=np.float64)


def _pearson_columns(pwm: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit length: their Euclidean distance is
    ``sqrt(2 * (1 - r))`` for Pearson correlation ``r``.  Uniform columns become zero."""
    centred = pwm - pwm.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-9)
    return _probability_columns(unit)


_COLUMN_TRANSFORMS = {"pearson": _pearson_columns, "euclidean": _probability_columns}


def _targets(database: Any) -> dict[str, np.ndarray]:
    if isinstance(database, Mapping):
        targets = {str(k): _normalised(_as_pwm(v, "target motif")) for k, v in database.items()}
    elif isinstance(database, str) and database.lower() == "jaspar":
        targets = jaspar_motifs()
    elif isinstance(database, (str, os.PathLike)):
        targets = read_meme(database)
    else:
        raise UsageError("database must be 'jaspar', a MEME file path or a dict of PWMs")
    if not targets:
        raise UsageError("the motif database is empty")
    return targets


def _benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis (each row is one family)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q
