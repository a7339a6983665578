"""``seqcnn simulate``: write the planted-motif demo data (:func:`seqcnn.simulate.simulate`)."""

from __future__ import annotations

import click

from .options import CONTEXT, force_option, split_list


@click.command(context_settings=CONTEXT)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the FASTA, labels, planted instances and motifs into.",
)
@click.option("-n", "--sequences", "n_sequences", type=int, default=30000, show_default=True)
@click.option("--length", type=int, default=200, show_default=True)
@click.option("--motifs", help="Comma-separated JASPAR ids or TF names [default: all 12].")
@click.option(
    "--motif-file",
    type=click.Path(exists=True, dir_okay=False),
    help="A MEME file of motifs to plant instead of the bundled 12.",
)
@click.option(
    "--counts",
    default="0.50,0.25,0.17,0.05,0.03",
    show_default=True,
    help="Probabilities of planting 1, 2, ... motif instances per sequence.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--prefix", default="planted", show_default=True, help="File name prefix.")
@click.option(
    "--per-position",
    is_flag=True,
    help="Also write per-position labels: the instances as sites (PREFIX_sites.tsv, "
    "segmentation) and read counts around them (PREFIX_counts.npz, profile; the true rates "
    "in PREFIX_rates.npz).",
)
@force_option("files")
def simulate(out, n_sequences, length, motifs, motif_file, counts, seed, prefix, per_position,
             force):  # fmt: skip
    """Write a planted-motif data set (Koo & Eddy 2019 recipe).

    Uniform random background; each sequence gets 1-5 instances of JASPAR motifs on either
    strand; one 0/1 label per motif.  Writes PREFIX.fa, PREFIX_labels.tsv,
    PREFIX_instances.tsv and PREFIX_motifs.meme.

    With --per-position, each instance also labels its bases (one track per motif) and
    adds read counts in a two-peak footprint around its centre, scaled by how well it
    matches the motif (see seqcnn.simulate_position).

    \b
    Examples:
      seqcnn simulate -o demo
      seqcnn encode demo/planted.fa --labels demo/planted_labels.tsv -o demo/planted.ds
      seqcnn simulate -o demo --per-position
      seqcnn encode demo/planted.fa --sites demo/planted_sites.tsv -o demo/seg.ds
      seqcnn encode demo/planted.fa --labels-npy demo/planted_counts.npz --task profile \\
          -o demo/profile.ds
    """
    from pathlib import Path

    from .._io import check_output
    from ..simulate import simulate as simulate_api
    from ..simulate import write_simulation

    suffixes = [".fa", "_labels.tsv", "_instances.tsv", "_motifs.meme"]
    if per_position:
        suffixes += ["_sites.tsv", "_counts.npz", "_rates.npz"]
    for suffix in suffixes:
        check_output(Path(out) / f"{prefix}{suffix}", overwrite=force)
    try:
        probs = [float(p) for p in counts.split(",")]
    except ValueError:
        raise click.BadParameter("comma-separated numbers", param_hint="--counts") from None
    data = simulate_api(
        n_sequences=n_sequences,
        length=length,
        motifs=split_list(motifs),
        motif_file=motif_file,
        count_probs=probs,
        seed=seed,
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = write_simulation(data, out, prefix=prefix)
    if per_position:
        from ..simulate_position import simulate_profiles, write_per_position

        profiles = simulate_profiles(data, seed=seed)
        paths |= write_per_position(data, out, prefix, profiles=profiles)
    click.echo(
        f"wrote {len(data.ids)} sequences with {len(data.motif_names)} motifs: "
        + ", ".join(str(p) for p in paths.values()),
        err=True,
    )
