"""Benchmark: does motif discovery (DeepLIFT/SHAP -> TF-MoDISco -> JASPAR) recover the planted
motifs, and how long does it take?

Runs :func:`seqcnn.motifs.discover_motifs` on a random sample (seed 0) of the planted-motif
demo set (``data/planted.fa.gz``: 30,000 x 200 bp, 12 JASPAR motifs) with a trained bundle,
then matches every pattern's core against JASPAR CORE vertebrates, all versions (Tomtom,
Pearson, q < 0.05, up to 50 matches per pattern), as ``benchmarks/motifs.py`` does for
first-layer filters.  A planted TF counts as **recovered** when it is among a pattern's
significant matches (the planted matrix, another version of it, or another matrix of the
same TF; a dimer such as ``FOSL1::JUN`` counts for FOSL1); a pattern is **spurious** when
none of its significant matches is a planted TF.  Time is split into attributions,
clustering and matching.

Without ``--target``, discovery runs per output (each output explained over the sequences
predicted for it, clustered on its own; patterns ``<output>/pattern_<k>``); patterns count
as recovered the same way, and each output's line says whether a positive pattern of that
output matches the output's own planted TF (``own``).

Usage::

    python benchmarks/discovery.py --model demo/seqcnn_model [--sequences 5000]
        [--shuffles 20] [--max-seqlets 2000] [--target NAME] [--max-per-output N]
    python benchmarks/discovery.py --model m --fasta ../shared/data/ctcf.fa.gz --expect CTCF
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from motifs import is_planted, planted_tfs, tf_names  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--fasta", default=str(ROOT / "data" / "planted.fa.gz"))
    parser.add_argument("--sequences", type=int, default=5000)
    parser.add_argument("--shuffles", type=int, default=20)
    parser.add_argument("--max-seqlets", type=int, default=2000)
    parser.add_argument("--target", default=None, help="output name or index (default: per output)")
    parser.add_argument("--max-per-output", type=int, default=None)
    parser.add_argument("--expect", default=None, help="TF names to look for (comma-separated)")
    parser.add_argument("--out", default=None, help="write patterns and logos here")
    args = parser.parse_args()

    import seqcnn
    from seqcnn.inputs import read_codes
    from seqcnn.motifs import discover_motifs, match_motifs, write_discovery

    load = os.getloadavg()
    started = time.perf_counter()
    model = seqcnn.load_model(args.model)
    data = read_codes(args.fasta, model.input_length, max_sequences=args.sequences, seed=0)
    x = data.one_hot(model.n_encoding)
    target = args.target
    if target is not None and target.isdigit():
        target = int(target)
    found = discover_motifs(
        model,
        x,
        target,
        ids=data.ids,
        n_shuffles=args.shuffles,
        max_seqlets=args.max_seqlets,
        max_per_output=args.max_per_output,
        batch_size=256,
        progress=False,
    )
    total = time.perf_counter() - started
    database = seqcnn.jaspar_motifs(all_versions=True)
    cores = {p.name: p.core_pwm for p in found.patterns}
    matches = match_motifs(cores, database, n_matches=50, q_threshold=0.05) if cores else None

    planted = planted_tfs()
    wanted = {name.upper(): matrix_id for matrix_id, name in planted.items()}
    if args.expect:
        wanted = {name.strip().upper(): None for name in args.expect.split(",")}
        planted = {}
    recovered: dict[str, list[str]] = {}
    spurious = []
    own: dict[str, bool] = {}  # output -> a positive pattern of it matches its planted TF
    for pattern in found.patterns:
        hits = [] if matches is None else matches[matches["filter"] == pattern.name]
        mine = set()
        for row in getattr(hits, "itertuples", lambda: [])():
            names = tf_names(row.match_name) & set(wanted)
            if planted and is_planted(row.match_id, row.match_name, planted, wanted):
                base = row.match_id.split(".")[0]
                names |= {n.upper() for i, n in planted.items() if i.split(".")[0] == base}
            mine |= names
        for tf in mine:
            recovered.setdefault(tf, []).append(pattern.name)
        if not mine:
            spurious.append(pattern.name)
        if pattern.output is not None and found.outputs is not None:
            tf = pattern.output.split("_", 1)[-1].upper()
            own[pattern.output] = own.get(pattern.output, False) or (
                pattern.sign > 0 and tf in mine
            )

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    table = found.table()
    print(table.to_string(max_colwidth=40))
    per_output = {}
    if found.outputs is not None:
        for row in found.outputs.itertuples():
            mine = [p for p in found.patterns if p.output == row.output]
            tfs = sorted({tf for tf, names in recovered.items() for p in mine if p.name in names})
            per_output[row.output] = {
                "predicted": int(row.predicted),
                "explained": int(row.explained),
                "patterns": int(row.patterns),
                "positive": sum(p.sign > 0 for p in mine),
                "seqlets": int(row.seqlets),
                "own": bool(own.get(row.output, False)),
                "matches_planted": tfs,
            }
            print(
                f"{row.output:<20} predicted {row.predicted:>5} explained {row.explained:>4} "
                f"patterns {row.patterns:>2} ({per_output[row.output]['positive']} +) "
                f"seqlets {row.seqlets:>5} own TF: {'yes' if own.get(row.output) else 'no ':<3} "
                f"planted TFs matched: {', '.join(tfs)}"
            )
    summary = {
        "model": args.model,
        "architecture": model.config["model"]["architecture"],
        "fasta": args.fasta,
        "sequences": len(x),
        "shuffles": args.shuffles,
        "max_seqlets": args.max_seqlets,
        "target": found.target,
        "patterns": len(found.patterns),
        "positive": sum(p.sign > 0 for p in found.patterns),
        "recovered": f"{len(recovered)}/{len(wanted)}",
        "recovered_by": {tf: recovered[tf] for tf in sorted(recovered)},
        "missed": sorted(set(wanted) - set(recovered)),
        "spurious": spurious,
        "explained_rows": len(found.rows),
        "own_output_recovered": f"{sum(own.values())}/{len(per_output)}" if per_output else None,
        "per_output": per_output,
        "convergence": found.convergence.summary(),
        "seconds": {**found.timings, "end_to_end": round(total, 1)},
        "load_average_before": [round(v, 2) for v in load],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "commit": commit,
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        from seqcnn.plots import draw_pattern_logos

        write_discovery(found, args.out)
        draw_pattern_logos(found.patterns, Path(args.out) / "logos")
        (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
