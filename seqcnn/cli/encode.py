"""``seqcnn encode``: FASTA (+ labels) -> dataset folder, by :func:`seqcnn.dataset.encode`;
BED intervals + a genome -> dataset folder, by :func:`seqcnn.intervals.encode_intervals`."""

from __future__ import annotations

import click

from ..alphabet import CROP_MODES, N_ENCODINGS
from ..errors import UsageError
from ..intervals import NEGATIVE_KINDS, OFF_END
from ..labels import MISSING_POLICIES, TASKS
from ..threads import MAX_WORKERS
from .options import CONTEXT, progress, quiet_option, split_list, threads_option, use_threads

# Options of one input kind only, by parameter name (checked when given on the command line).
_FASTA_ONLY = ("labels", "labels_npy", "id_column", "header_labels", "missing_labels", "crop",
               "shuffled_negatives", "shuffle_copies", "shuffle_seed", "workers")  # fmt: skip
_BED_ONLY = ("genome", "negatives", "negative_ratio", "exclude", "off_end", "seed", "signal")


@click.command(context_settings=CONTEXT)
@click.argument("fasta", nargs=-1, type=click.Path(allow_dash=True))
@click.option(
    "--bed",
    multiple=True,
    type=click.Path(),
    help="BED or narrowPeak file (plain or gzip; repeat for several) instead of FASTA: windows "
    "of --length bases of the --genome centred on each summit, else midpoint.",
)
@click.option(
    "--genome",
    type=click.Path(),
    help="Indexed reference FASTA for --bed (plain or bgzip; a missing .fai/.gzi is built).",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Dataset folder to write (written atomically).",
)
@click.option(
    "--labels",
    type=click.Path(),
    help="Label table (.tsv/.csv, may be .gz) with an id column and label columns.",
)
@click.option(
    "--sites",
    type=click.Path(),
    help="Per-position labels (segmentation): sites, 0-based half-open, as a table "
    "'id start end [label]' in record coordinates, or with --bed a BED 'chrom start end "
    "[label]' in genome coordinates; one 0/1 track per label.",
)
@click.option(
    "--signal",
    multiple=True,
    metavar="[NAME=]FILE.bw",
    help="--bed: per-position counts (profile) from a bigWig, one track per file (repeat; "
    "named after the file, or NAME); uncovered bases are 0.",
)
@click.option(
    "--labels-npy",
    type=click.Path(),
    help="Per-position labels as a NumPy array (N, T, L) in .npy, or .npz with 'labels' "
    "[and 'names'], row i for record i; needs --task segmentation or profile.",
)
@click.option(
    "--tracks",
    help="Comma-separated track names: the --sites labels to use, in order [default: all, "
    "as they first appear], or the names of the --labels-npy tracks.",
)
@click.option("--id-column", help="Id column of the label table [default: 'id' or the first].")
@click.option(
    "--label-columns",
    help="Comma-separated label columns (table or --bed file) or header keys [default: all].",
)
@click.option(
    "--class-per-file",
    is_flag=True,
    help="Each FASTA (or --bed) file is one class (two files: binary, the first file positive).",
)
@click.option(
    "--classes", help="Comma-separated class names for --class-per-file [default: file names]."
)
@click.option(
    "--header-labels",
    is_flag=True,
    help="Read labels from 'key=value' pairs in the FASTA headers ('>seq1 label=1').",
)
@click.option(
    "--task",
    type=click.Choice(TASKS),
    help="Learning task [default: inferred from the labels].",
)
@click.option(
    "--missing-labels",
    type=click.Choice(MISSING_POLICIES),
    default="error",
    show_default=True,
    help="Records with a missing label (empty, NA, NaN, '.', ...): an error, dropped, or "
    "(multilabel, regression) masked out of the loss.",
)
@click.option(
    "--length",
    type=int,
    help="Pad with N or crop every sequence to this length (--bed: the window length).",
)
@click.option(
    "--crop",
    type=click.Choice(CROP_MODES),
    default="center",
    show_default=True,
    help="Which part to keep when cropping (and where to pad).",
)
@click.option(
    "--n-encoding",
    type=click.Choice(N_ENCODINGS),
    default="zeros",
    show_default=True,
    help="How N and IUPAC ambiguity codes become one-hot values.",
)
@click.option(
    "--shuffled-negatives",
    is_flag=True,
    help="All records are positives; add dinucleotide-shuffled copies as negatives (binary).",
)
@click.option(
    "--shuffle-copies",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shuffled negatives per positive.",
)
@click.option(
    "--shuffle-seed", type=int, default=0, show_default=True, help="Seed of the shuffles."
)
@click.option(
    "--negatives",
    type=click.Choice(NEGATIVE_KINDS),
    help="--bed: add negatives, windows of the genome matching the positives' GC histogram "
    "(away from every positive) or dinucleotide shuffles of the positives (binary task).",
)
@click.option(
    "--negative-ratio",
    type=click.FloatRange(min=0, min_open=True),
    default=1,
    show_default=True,
    help="Negatives per positive (a whole number for shuffled).",
)
@click.option(
    "--exclude",
    type=click.Path(),
    help="BED of regions no GC-matched negative may overlap (e.g. the ENCODE blacklist).",
)
@click.option(
    "--off-end",
    type=click.Choice(OFF_END),
    default="pad",
    show_default=True,
    help="--bed windows that run off a contig: padded with N, or dropped (counted).",
)
@click.option("--seed", type=int, help="Seed of --negatives [default: 0].")
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    help="Processes reading a large plain FASTA at once "
    f"[default: --threads, at most {MAX_WORKERS}].",
)
@threads_option
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
@click.pass_context
def encode(
    ctx,
    fasta,
    bed,
    genome,
    out,
    labels,
    sites,
    signal,
    labels_npy,
    tracks,
    id_column,
    label_columns,
    class_per_file,
    classes,
    header_labels,
    task,
    missing_labels,
    length,
    crop,
    n_encoding,
    shuffled_negatives,
    shuffle_copies,
    shuffle_seed,
    negatives,
    negative_ratio,
    exclude,
    off_end,
    seed,
    workers,
    threads,
    force,
    quiet,
):
    """Encode FASTA file(s) and labels, or genome intervals, into a dataset folder.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  Lower-case (soft-masked)
    bases are upper-cased and U is read as T; N and IUPAC codes are allowed.

    \b
    From intervals (--bed with --genome and --length, instead of FASTA):
      coordinates are 0-based, half-open (BED); each window of L bases is centred on
      the narrowPeak summit (column 10) when there is one, else on the midpoint
      start + (end - start) // 2, and spans [centre - L // 2, centre - L // 2 + L);
      ids are chrom:start-end, so --valid-chroms/--test-chroms split by chromosome;
      contigs may be named chr20 or 20 whatever the genome calls them
    \b
    Examples:
      seqcnn encode pos.fa.gz neg.fa.gz --class-per-file -o peaks.ds
      seqcnn encode seqs.fa --labels labels.tsv -o data.ds
      seqcnn encode seqs.fa --header-labels --task regression --length 500 -o data.ds
      seqcnn encode chip_peaks.fa.gz --shuffled-negatives -o peaks.ds
      seqcnn encode --bed peaks.narrowPeak.gz --genome hg19.fa.gz --length 200 \\
          --negatives gc-matched --exclude blacklist.bed -o peaks.ds
      seqcnn encode --bed a.bed --bed b.bed --class-per-file --genome hg19.fa.gz \\
          --length 500 -o ab.ds
    \b
    Per-position labels (a track per label along each sequence):
      seqcnn encode seqs.fa --sites sites.tsv -o seg.ds
      seqcnn encode seqs.fa --labels-npy counts.npz --task profile -o prof.ds
      seqcnn encode --bed tiles.bed --genome hg19.fa.gz --length 2000 \\
          --sites ctcf_peaks.bed -o ctcf_seg.ds
      seqcnn encode --bed peaks.bed --genome hg19.fa.gz --length 1000 \\
          --signal plus=ctcf.plus.bw --signal minus=ctcf.minus.bw -o ctcf_prof.ds
    """
    use_threads(threads)  # sets the worker default; torch is not imported for it
    _check_input_kind(ctx, fasta, bed, labels)
    if labels_npy is not None:
        if labels is not None:
            raise UsageError("give labels one way: --labels (a table) or --labels-npy (an array)")
        if not labels_npy.lower().endswith((".npy", ".npz")):
            raise UsageError("--labels-npy takes a .npy or .npz file", path=labels_npy)
        labels = labels_npy
    if bed:
        from ..intervals import encode_intervals

        if genome is None or length is None:
            raise UsageError("--bed needs --genome (the reference) and --length (the window)")
        dataset = encode_intervals(
            list(bed),
            genome,
            out,
            length=length,
            class_per_file=class_per_file,
            classes=split_list(classes),
            label_columns=split_list(label_columns),
            task=task,
            negatives=negatives,
            negative_ratio=negative_ratio,
            exclude=exclude,
            off_end=off_end,
            seed=0 if seed is None else seed,
            n_encoding=n_encoding,
            sites=sites,
            signals=list(signal) or None,
            tracks=split_list(tracks),
            overwrite=force,
            progress=progress(quiet),
        )
        _report(out, dataset)
        return
    from ..dataset import encode as encode_api

    dataset = encode_api(
        list(fasta),
        out,
        labels=labels,
        sites=sites,
        tracks=split_list(tracks),
        id_column=id_column,
        label_columns=split_list(label_columns),
        class_per_file=class_per_file,
        classes=split_list(classes),
        header_labels=header_labels,
        task=task,
        missing_labels=missing_labels,
        length=length,
        crop=crop,
        n_encoding=n_encoding,
        shuffled_negatives=shuffle_copies if shuffled_negatives else 0,
        shuffle_seed=shuffle_seed,
        overwrite=force,
        progress=progress(quiet),
        workers=workers,
    )
    _report(out, dataset)


def _given(ctx: click.Context, names) -> list[str]:
    """The options among ``names`` given on the command line (or in the environment)."""
    defaults = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP, None)
    flags = {p.name: p.opts[-1] for p in ctx.command.params}
    return [flags[n] for n in names if ctx.get_parameter_source(n) not in defaults]


def _check_input_kind(ctx: click.Context, fasta, bed, labels) -> None:
    """FASTA or --bed, one of the two, and no option of the other kind."""
    if bool(fasta) == bool(bed):
        raise UsageError(
            "give FASTA file(s) or --bed interval file(s) with --genome, "
            + ("not both" if fasta else "one of the two")
        )
    if bed and labels is not None:
        raise UsageError(
            "with --bed, labels are columns of the BED file(s): name them with "
            "--label-columns (e.g. --label-columns signal_value)"
        )
    wrong = _given(ctx, _FASTA_ONLY if bed else _BED_ONLY)
    if wrong:
        hint = (
            "; shuffled negatives of intervals are --negatives shuffled [--negative-ratio N]"
            if bed and any("shuffle" in w for w in wrong)
            else ""
        )
        raise UsageError(
            f"{', '.join(wrong)} {'go' if len(wrong) > 1 else 'goes'} with "
            f"{'FASTA input, not --bed' if bed else '--bed'}{hint}"
        )


def _report(out, dataset) -> None:
    """One summary line on stderr; for intervals the windows dropped or padded and how well
    the GC-matched negatives match."""
    task_text = f", task {dataset.task} ({', '.join(dataset.label_names)})" if dataset.task else ""
    notes = []
    windows = dataset.header.get("intervals") or {}
    if windows.get("dropped_off_end"):
        notes.append(f"{windows['dropped_off_end']} windows off a contig's end dropped")
    if windows.get("padded"):
        notes.append(f"{windows['padded']} windows padded with N off a contig's end")
    if windows.get("duplicates_dropped"):
        notes.append(f"{windows['duplicates_dropped']} duplicate windows dropped")
    per_position = dataset.header.get("per_position") or {}
    if per_position.get("off_genome"):
        notes.append(f"{per_position['off_genome']} sites on contigs the genome lacks left out")
    if per_position.get("masked_bases"):
        notes.append(f"{per_position['masked_bases']} bases off a contig's end masked (255)")
    sample = dataset.header.get("negatives") or {}
    if sample.get("kind") == "gc-matched":
        short = f", {sample['shortfall']} short" if sample.get("shortfall") else ""
        notes.append(
            f"{sample['sampled']} GC-matched negatives{short}, "
            f"GC KS statistic {sample['ks_statistic']:.4f}"
        )
    extra = f"; {'; '.join(notes)}" if notes else ""
    click.echo(
        f"wrote {out}: {len(dataset)} sequences of {dataset.length} bp{task_text}{extra}", err=True
    )
