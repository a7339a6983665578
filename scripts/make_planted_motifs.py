"""Regenerate ``seqcnn/data/planted_motifs.meme`` from the JASPAR database shipped with pyjaspar.

The file holds the twelve JASPAR position frequency matrices that Koo & Eddy (2019,
PLoS Comput Biol 15:e1007560) planted in their synthetic sequences.  It is committed to the
repository; this script only documents where it came from and rebuilds it::

    python scripts/make_planted_motifs.py                 # writes the packaged file
    python scripts/make_planted_motifs.py -o other.meme --release JASPAR2020

JASPAR2016 is the oldest release bundled with pyjaspar that holds all twelve versioned
matrix ids (JASPAR2014 lacks MA0466.2, MA0058.3, MA0052.3 and MA0083.3); the matrices of
these ids are identical in every later release up to JASPAR2026, so the release only
changes the provenance comment.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np

#: (JASPAR matrix id, TF name) in the order Koo & Eddy list them.
KOO_EDDY_MOTIFS = [
    ("MA0151.1", "Arid3a"),
    ("MA0466.2", "CEBPB"),
    ("MA0477.1", "FOSL1"),
    ("MA0062.2", "Gabpa"),
    ("MA0496.1", "MAFK"),
    ("MA0058.3", "MAX"),
    ("MA0052.3", "MEF2A"),
    ("MA0502.1", "NFYB"),
    ("MA0079.3", "SP1"),
    ("MA0083.3", "SRF"),
    ("MA0137.3", "STAT1"),
    ("MA0095.2", "YY1"),
]

DEFAULT_RELEASE = "JASPAR2016"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "seqcnn" / "data" / "planted_motifs.meme"


def fetch_counts(release: str) -> list[tuple[str, str, np.ndarray]]:
    """Fetch the count matrices of :data:`KOO_EDDY_MOTIFS` from one JASPAR release.

    Parameters
    ----------
    release
        A release name known to pyjaspar, e.g. ``"JASPAR2016"``.

    Returns
    -------
    list of (matrix id, TF name, counts)
        ``counts`` has shape (width, 4), columns A, C, G, T.
    """
    from pyjaspar import jaspardb

    with warnings.catch_warnings():
        # pyjaspar warns about the sqlite file of old releases; the matrices are what we check.
        warnings.simplefilter("ignore")
        db = jaspardb(release=release)
        result = []
        for matrix_id, tf_name in KOO_EDDY_MOTIFS:
            motif = db.fetch_motif_by_id(matrix_id)
            if motif is None or motif.matrix_id != matrix_id:
                raise SystemExit(f"{release} has no matrix {matrix_id} ({tf_name})")
            if motif.name.lower() != tf_name.lower():
                raise SystemExit(f"{release}: {matrix_id} is {motif.name}, expected {tf_name}")
            counts = np.array([motif.counts[base] for base in "ACGT"], dtype=float).T
            result.append((matrix_id, motif.name, counts))
    return result


def format_meme(motifs: list[tuple[str, str, np.ndarray]], release: str) -> str:
    """Format count matrices as a MEME minimal-format (version 4) file.

    Probabilities are the counts divided by each column's total; ``nsites`` is the largest
    column total (JASPAR columns of one matrix need not have equal totals).
    """
    lines = [
        "MEME version 4",
        "",
        "# The 12 JASPAR CORE vertebrate matrices planted by Koo & Eddy (2019),",
        "# PLoS Comput Biol 15:e1007560, doi:10.1371/journal.pcbi.1007560.",
        f"# Source: {release} (the sqlite database bundled with pyjaspar); every id is the",
        "# exact matrix version used in the paper.  Regenerate with",
        "# scripts/make_planted_motifs.py.",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        "A 0.25 C 0.25 G 0.25 T 0.25",
        "",
    ]
    for matrix_id, tf_name, counts in motifs:
        totals = counts.sum(axis=1)
        probs = counts / totals[:, None]
        width = counts.shape[0]
        nsites = int(round(totals.max()))
        lines.append(f"MOTIF {matrix_id} {tf_name}")
        lines.append(f"letter-probability matrix: alength= 4 w= {width} nsites= {nsites} E= 0")
        lines.extend(" ".join(f"{p:.6f}" for p in row) for row in probs)
        lines.append(f"URL https://jaspar.elixir.no/matrix/{matrix_id}/")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--release", default=DEFAULT_RELEASE)
    args = parser.parse_args(argv)

    text = format_meme(fetch_counts(args.release), args.release)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.output)
    print(f"wrote {len(KOO_EDDY_MOTIFS)} motifs from {args.release} to {args.output}")


if __name__ == "__main__":
    main()
