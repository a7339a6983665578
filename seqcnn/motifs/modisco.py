"""TF-MoDISco (modisco-lite) on one-hot sequences and hypothetical contributions: seqlets
of high contribution clustered into :class:`Pattern` objects, mapped back to records.

TF-MoDISco's windows are sized for 400-1,000 bp regions.  :func:`discovery_settings` keeps
modisco-lite's command-line defaults for sequences of 100 bp or more and shrinks the seqlet
core, flanks, trimmed width and added flanks for shorter ones, so that a pattern fits in
half a sequence.  Columns that are not one base (N padding, IUPAC codes) contribute
nothing: their one-hot and hypothetical contributions are set to zero before clustering.
The whole route, from a model to matched patterns, is :mod:`seqcnn.motifs.discovery`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcnn.errors import UsageError

from .pwm import consensus, information_content

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CORE_FRACTION",
    "MIN_LENGTH",
    "SEQLET_COLUMNS",
    "DiscoverySettings",
    "Pattern",
    "discovery_settings",
    "file_stem",
    "find_patterns",
    "start_compiling",
]

#: A pattern's core: the positions whose total |contribution| is at least this fraction of
#: the largest (modisco-lite's report trims at the same fraction).
CORE_FRACTION = 0.3
#: Columns of :attr:`Pattern.seqlets`.
SEQLET_COLUMNS = ["pattern", "id", "index", "start", "end", "strand", "seqlet_start", "seqlet_end"]
# Added to the probability matrices written and matched, so no base has probability 0.
_PSEUDOCOUNT = 0.01


# ------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class DiscoverySettings:
    """TF-MoDISco's settings, under seqcnn's names (modisco-lite's in brackets).

    Attributes
    ----------
    window
        Width of a seqlet's core, over which contributions are summed to call it
        (``sliding_window_size``).
    flank
        Bases added on each side of a seqlet's core (``flank_size``).
    trim
        Width patterns are trimmed to around their most informative part
        (``trim_to_window_size``).
    pattern_flank
        Bases then added back on each side of a pattern (``initial_flank_to_add``).
    max_seqlets
        Seqlets clustered per sign, at most (``max_seqlets_per_metacluster``); the first
        ones found are kept, in sequence order.
    min_seqlets
        Smallest pattern kept (``final_min_cluster_size``).
    min_metacluster
        Fewest seqlets of one sign that are clustered at all (``min_metacluster_size``).
    fdr
        False discovery rate of seqlet calling against the Laplace null
        (``target_seqlet_fdr``).
    n_leiden
        Leiden clusterings with different seeds, the best kept (``n_leiden_runs``).
    """

    window: int = 20
    flank: int = 5
    trim: int = 30
    pattern_flank: int = 10
    max_seqlets: int = 2000
    min_seqlets: int = 20
    min_metacluster: int = 100
    fdr: float = 0.05
    n_leiden: int = 2

    def modisco_options(self) -> dict[str, Any]:
        """Keyword arguments of ``modiscolite.tfmodisco.TFMoDISco``."""
        return {
            "sliding_window_size": self.window,
            "flank_size": self.flank,
            "trim_to_window_size": self.trim,
            "initial_flank_to_add": self.pattern_flank,
            "final_flank_to_add": 0,
            "max_seqlets_per_metacluster": self.max_seqlets,
            "final_min_cluster_size": self.min_seqlets,
            "min_metacluster_size": self.min_metacluster,
            "target_seqlet_fdr": self.fdr,
            "n_leiden_runs": self.n_leiden,
            "min_ic_windowsize": min(6, self.trim),
        }


#: The shortest sequences discovery runs on.
MIN_LENGTH = 12


def discovery_settings(length: int, **overrides: Any) -> DiscoverySettings:
    """Settings for sequences of ``length`` bases: modisco-lite's command-line defaults
    (core 20, flank 5, trim 30, pattern flank 10) from 100 bp up, smaller below.

    Parameters
    ----------
    length
        The sequence length.
    **overrides
        Fields of :class:`DiscoverySettings` to set; they are checked against ``length``.

    Raises
    ------
    UsageError
        An unknown field, a sequence shorter than :data:`MIN_LENGTH`, or settings whose
        seqlets or patterns do not fit in the sequences.

    Examples
    --------
    >>> discovery_settings(200).window, discovery_settings(50).window
    (20, 10)
    """
    fields = {f.name for f in dataclasses.fields(DiscoverySettings)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise UsageError(
            f"unknown discovery setting {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(fields))}"
        )
    if length < MIN_LENGTH:
        raise UsageError(
            f"sequences of {length} bases are too short for motif discovery (at least {MIN_LENGTH})"
        )
    window = min(20, max(5, length // 5))
    flank = min(5, max(1, length // 20))
    pattern_flank = min(10, length // 10)
    trim = min(30, max(window, length // 2 - 2 * pattern_flank))
    chosen = {"window": window, "flank": flank, "trim": trim, "pattern_flank": pattern_flank}
    settings = DiscoverySettings(**{**chosen, **overrides})
    for name in ("window", "flank", "trim", "max_seqlets", "min_seqlets", "n_leiden"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise UsageError(f"discovery setting {name} must be a positive integer, got {value!r}")
    if settings.pattern_flank < 0 or settings.min_metacluster < 1:
        raise UsageError("pattern_flank must be >= 0 and min_metacluster >= 1")
    if not 0 < settings.fdr < 1:
        raise UsageError(f"fdr must be between 0 and 1, got {settings.fdr}")
    # A seqlet's core must be able to start at `flank` and end `flank` before the end.
    if settings.window + 2 * settings.flank >= length:
        raise UsageError(
            f"seqlets of {settings.window} + 2 x {settings.flank} bases do not fit in "
            f"sequences of {length}; use a smaller window or flank"
        )
    return settings


# ------------------------------------------------------------------------------ patterns


@dataclass
class Pattern:
    """A motif found by TF-MoDISco.

    Attributes
    ----------
    name
        ``"pattern_<k>"`` (positive contributions) or ``"negative_<k>"`` (negative ones:
        bases that lower the output), numbered from 1 in modisco-lite's order (most
        seqlets first).
    sign
        ``+1`` or ``-1``.
    cwm
        ``(w, 4)``: mean contribution of the observed base at each position of the
        aligned seqlets (A, C, G, T), the contribution weight matrix.
    hypothetical_cwm
        ``(w, 4)``: mean hypothetical contribution of each base.
    pwm
        ``(w, 4)``: base frequencies of the aligned seqlets.
    core
        ``(start, end)``: the positions of the matrices with at least
        :data:`CORE_FRACTION` of the largest total |contribution|; what is matched and
        written to MEME files.
    seqlets
        One row per seqlet (:data:`SEQLET_COLUMNS`): ``id`` and ``index`` of its record
        (row of the input), ``start`` and ``end`` of the core in the record (0-based,
        end exclusive), ``strand`` (``"-"``: the pattern is the reverse complement there)
        and ``seqlet_start`` / ``seqlet_end``, the whole aligned window.
    matches
        Known motifs similar to the core (``filter`` column = the pattern's name), as from
        :func:`seqcnn.motifs.match_motifs`; empty when not matched.
    output
        The model output whose attributions the pattern was found in (``None``: a sum of
        outputs, or a pattern from :func:`find_patterns` alone).  Discovery per output
        names its patterns ``"<output>/pattern_<k>"``.
    file_stem
        The pattern's name as a file name (``"/"`` -> ``"__"``, other characters outside
        letters, digits, ``.``, ``_`` and ``-`` -> ``"_"``): its matrices and logos.
    """

    name: str
    sign: int
    cwm: np.ndarray = field(repr=False)
    hypothetical_cwm: np.ndarray = field(repr=False)
    pwm: np.ndarray = field(repr=False)
    core: tuple[int, int]
    seqlets: pd.DataFrame = field(repr=False)
    matches: pd.DataFrame | None = field(default=None, repr=False)
    output: str | None = None
    file_stem: str = ""

    def __post_init__(self) -> None:
        if not self.file_stem:
            self.file_stem = file_stem(self.name)

    @property
    def n_seqlets(self) -> int:
        """Seqlets in the pattern."""
        return len(self.seqlets)

    @property
    def width(self) -> int:
        """Positions of the matrices."""
        return int(len(self.pwm))

    @property
    def core_pwm(self) -> np.ndarray:
        """The base frequencies of the core, with a small pseudocount (rows sum to 1)."""
        start, end = self.core
        counts = self.pwm[start:end] + _PSEUDOCOUNT
        return counts / counts.sum(axis=1, keepdims=True)

    @property
    def core_cwm(self) -> np.ndarray:
        """The CWM of the core."""
        return self.cwm[self.core[0] : self.core[1]]

    @property
    def consensus(self) -> str:
        """Consensus of the core (:func:`seqcnn.motifs.consensus`)."""
        return consensus(self.core_pwm)

    @property
    def information(self) -> float:
        """Information content of the core in bits."""
        return float(information_content(self.core_pwm).sum())

    @property
    def contribution(self) -> float:
        """Total contribution of the core's CWM (negative for a negative pattern)."""
        return float(self.core_cwm.sum())

    def best_match(self, q_threshold: float | None = 0.05) -> str | None:
        """``"<id> <name>"`` of the best match with ``q_value <= q_threshold``, or ``None``."""
        if self.matches is None or not len(self.matches):
            return None
        table = self.matches.sort_values("p_value")
        if q_threshold is not None:
            table = table[table["q_value"] <= q_threshold]
        if not len(table):
            return None
        row = table.iloc[0]
        return f"{row['match_id']} {row['match_name']}"


def file_stem(name: str) -> str:
    """``name`` as a file name: ``"/"`` -> ``"__"``, anything but letters, digits, ``.``,
    ``_`` and ``-`` -> ``"_"``.

    Examples
    --------
    >>> file_stem("MA0139.2 CTCF/pattern_1")
    'MA0139.2_CTCF__pattern_1'
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "__")).lstrip(".") or "_"


def _core(cwm: np.ndarray) -> tuple[int, int]:
    total = np.abs(cwm).sum(axis=1)
    if not len(total) or total.max() <= 0:
        return 0, len(total)
    keep = np.flatnonzero(total >= CORE_FRACTION * total.max())
    return int(keep[0]), int(keep[-1] + 1)


def _seqlet_table(
    name: str,
    seqlets: Sequence[Any],
    core: tuple[int, int],
    ids: Sequence[str],
    offsets: np.ndarray,
) -> pd.DataFrame:
    import pandas as pd

    index = np.array([s.example_idx for s in seqlets], dtype=np.int64)
    start = np.array([s.start for s in seqlets], dtype=np.int64)
    end = np.array([s.end for s in seqlets], dtype=np.int64)
    reverse = np.array([bool(s.is_revcomp) for s in seqlets], dtype=bool)
    # Position j of the pattern is base start + j, or base end - 1 - j on the other strand.
    core_start = np.where(reverse, end - core[1], start + core[0])
    core_end = np.where(reverse, end - core[0], start + core[1])
    shift = offsets[index] if len(index) else np.zeros(0, dtype=np.int64)
    table = pd.DataFrame(
        {
            "pattern": name,
            "id": [str(ids[i]) for i in index],
            "index": index,
            "start": core_start + shift,
            "end": core_end + shift,
            "strand": np.where(reverse, "-", "+"),
            "seqlet_start": start + shift,
            "seqlet_end": end + shift,
        },
        columns=SEQLET_COLUMNS,
    )
    return table.sort_values(["index", "start"], kind="stable").reset_index(drop=True)


def _patterns(
    found: Sequence[Any] | None, sign: int, ids: Sequence[str], offsets: np.ndarray
) -> list[Pattern]:
    patterns = []
    for k, seqlet_set in enumerate(found or [], start=1):
        name = f"{'pattern' if sign > 0 else 'negative'}_{k}"
        cwm = np.asarray(seqlet_set.contrib_scores, dtype=np.float64)
        core = _core(cwm)
        patterns.append(
            Pattern(
                name=name,
                sign=sign,
                cwm=cwm,
                hypothetical_cwm=np.asarray(seqlet_set.hypothetical_contribs, dtype=np.float64),
                pwm=np.asarray(seqlet_set.sequence, dtype=np.float64),
                core=core,
                seqlets=_seqlet_table(name, seqlet_set.seqlets, core, ids, offsets),
            )
        )
    return patterns


def start_compiling() -> None:
    """Let modisco-lite compile its numba kernels in forked children, into numba's cache.

    It does so only when no other Python thread runs (forking one would be unsafe), so
    tqdm's monitor thread, which any progress bar starts, is stopped first; it only tunes
    refresh rates.  The first run in an installation then compiles while the
    attributions are computed, and later runs load the kernels from the cache instead of
    compiling them again (25 s of CPU).  Calling it again does nothing.
    """
    import tqdm

    from seqcnn.deeplift import require_discover

    require_discover("modiscolite")
    from modiscolite import precompile

    monitor = getattr(tqdm.tqdm, "monitor", None)
    if monitor is not None:
        monitor.exit()
        tqdm.tqdm.monitor = None
    precompile.start()


def find_patterns(
    x: np.ndarray,
    hypothetical: np.ndarray,
    *,
    ids: Sequence[str] | None = None,
    offsets: Sequence[int] | np.ndarray | None = None,
    settings: DiscoverySettings | None = None,
    **overrides: Any,
) -> list[Pattern]:
    """Cluster seqlets of high contribution into patterns with TF-MoDISco (modisco-lite).

    Parameters
    ----------
    x
        One-hot sequences ``(N, 4, L)``; N or ambiguous columns contribute nothing.
    hypothetical
        Their hypothetical contributions ``(N, 4, L)``, as from
        :func:`seqcnn.attribution.deep_lift_shap`.
    ids
        Record ids (default ``"0"``, ``"1"``, ...), for :attr:`Pattern.seqlets`.
    offsets
        Per sequence, the record position of the first column of ``x`` (negative where
        the record was padded, positive where it was cropped); seqlet positions are
        shifted by it.  Default 0.
    settings, **overrides
        :class:`DiscoverySettings`; default :func:`discovery_settings` for the length, with
        ``overrides``.

    Returns
    -------
    list of Pattern
        Positive patterns then negative ones; empty when too few seqlets pass (or the
        contributions are all zero).  Not yet matched to known motifs.
    """
    x = np.asarray(x, dtype=np.float32)
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    if x.ndim != 3 or x.shape[1] != 4 or hypothetical.shape != x.shape:
        raise UsageError(
            f"sequences and hypothetical contributions must both be (N, 4, L); got {x.shape} "
            f"and {hypothetical.shape}"
        )
    n, _, length = x.shape
    if settings is None:
        settings = discovery_settings(length, **overrides)
    elif overrides:
        settings = dataclasses.replace(settings, **overrides)
    ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    offsets = np.zeros(n, dtype=np.int64) if offsets is None else np.asarray(offsets, np.int64)
    if len(ids) != n or len(offsets) != n:
        raise UsageError(f"{len(ids)} ids and {len(offsets)} offsets given for {n} sequences")
    if not np.isfinite(hypothetical).all():
        raise UsageError("the hypothetical contributions hold NaN or infinite values")
    from seqcnn.deeplift import definite_columns

    # Only the observed, unambiguous bases contribute (N padding has no base to credit).
    definite = definite_columns(x)[:, None, :]
    hyp = np.where(definite, hypothetical, 0.0).astype(np.float32)
    contributions = (hyp * x).sum(axis=1)
    if n == 0 or not np.any(contributions):
        return []
    one_hot = np.ascontiguousarray(np.where(definite, x, 0.0).transpose(0, 2, 1), np.float32)
    from .match import _torch_threads_kept

    with _torch_threads_kept():
        start_compiling()
        from modiscolite.tfmodisco import TFMoDISco

        positive, negative = TFMoDISco(
            one_hot=one_hot,
            hypothetical_contribs=np.ascontiguousarray(hyp.transpose(0, 2, 1)),
            **settings.modisco_options(),
        )
    return _patterns(positive, 1, ids, offsets) + _patterns(negative, -1, ids, offsets)
