"""The ``seqcnn`` command line: parse options, call the Python API, report errors.

No logic lives here.  Every command maps onto one API function; errors the user can
cause (bad data, bad options) are printed as one line on stderr with exit code 1 (data)
or 2 (usage), without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import os
import sys

import click

from ._version import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _progress(quiet: bool) -> bool | None:
    """Progress bars: off with --quiet, else shown when stderr is a terminal."""
    return False if quiet else None


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bars.")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="seqcnn")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """Train convolutional networks on DNA sequences and explain what they learned.

    \b
    The pipeline, one command per step:
      seqcnn encode    FASTA (+ labels) -> one-hot dataset folder
      seqcnn train     dataset -> model bundle (./seqcnn_model)
      seqcnn predict   FASTA -> table of predictions
      seqcnn interpret FASTA -> filter motifs, logos, JASPAR matches, report
      seqcnn describe / simulate: inspect a model; write the planted-motif demo data
      seqcnn split / gather: scatter a FASTA into shards, join their prediction tables
    \b
    Examples:
      seqcnn encode pos.fa neg.fa --class-per-file -o peaks.ds
      seqcnn encode seqs.fa.gz --labels labels.tsv --length 200 -o data.ds
    """


@cli.command(context_settings=CONTEXT)
@click.argument("fasta", nargs=-1, required=True, type=click.Path(allow_dash=True))
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
@click.option("--id-column", help="Id column of the label table [default: 'id' or the first].")
@click.option(
    "--label-columns", help="Comma-separated label columns (table) or header keys [default: all]."
)
@click.option(
    "--class-per-file",
    is_flag=True,
    help="Each FASTA file is one class (two files: binary, the first file positive).",
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
    type=click.Choice(["binary", "multiclass", "multilabel", "regression"]),
    help="Learning task [default: inferred from the labels].",
)
@click.option("--length", type=int, help="Pad with N or crop every sequence to this length.")
@click.option(
    "--crop",
    type=click.Choice(["center", "left", "right"]),
    default="center",
    show_default=True,
    help="Which part to keep when cropping (and where to pad).",
)
@click.option(
    "--n-encoding",
    type=click.Choice(["zeros", "uniform", "iupac"]),
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
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    help="Processes reading a large plain FASTA at once [default: CPUs available, at most 8].",
)
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
def encode(
    fasta,
    out,
    labels,
    id_column,
    label_columns,
    class_per_file,
    classes,
    header_labels,
    task,
    length,
    crop,
    n_encoding,
    shuffled_negatives,
    shuffle_copies,
    shuffle_seed,
    workers,
    force,
    quiet,
):
    """Encode FASTA file(s) and labels into a dataset folder for training.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  Lower-case (soft-masked)
    bases are upper-cased and U is read as T; N and IUPAC codes are allowed.

    \b
    Examples:
      seqcnn encode pos.fa.gz neg.fa.gz --class-per-file -o peaks.ds
      seqcnn encode seqs.fa --labels labels.tsv -o data.ds
      seqcnn encode seqs.fa --header-labels --task regression --length 500 -o data.ds
      seqcnn encode chip_peaks.fa.gz --shuffled-negatives -o peaks.ds
    """
    from .dataset import encode as encode_api

    dataset = encode_api(
        list(fasta),
        out,
        labels=labels,
        id_column=id_column,
        label_columns=_split(label_columns),
        class_per_file=class_per_file,
        classes=_split(classes),
        header_labels=header_labels,
        task=task,
        length=length,
        crop=crop,
        n_encoding=n_encoding,
        shuffled_negatives=shuffle_copies if shuffled_negatives else 0,
        shuffle_seed=shuffle_seed,
        overwrite=force,
        progress=_progress(quiet),
        workers=workers,
    )
    task_text = f", task {dataset.task} ({', '.join(dataset.label_names)})" if dataset.task else ""
    click.echo(f"wrote {out}: {len(dataset)} sequences of {dataset.length} bp{task_text}", err=True)


def _setup_logging(quiet: bool) -> None:
    import logging

    logger = logging.getLogger("seqcnn")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _parse_model_options(pairs: tuple[str, ...]) -> dict:
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--option")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options


@cli.command(context_settings=CONTEXT)
@click.argument("data", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option(
    "-o",
    "--output",
    "out",
    default="seqcnn_model",
    show_default=True,
    type=click.Path(),
    help="Model bundle folder to write.",
)
@click.option(
    "-a",
    "--arch",
    "architecture",
    default=None,
    type=click.Choice(["cnn", "resnet", "dilated"]),
    help="Architecture [default: cnn, or the one in --config].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML/JSON file with the architecture and its options.",
)
@click.option(
    "--option",
    "model_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="A model option, e.g. --option dilated_layers=8 (repeatable).",
)
@click.option("--first-filters", type=int, help="Number of first-layer filters (motif detectors).")
@click.option("--first-width", type=int, help="Width of the first-layer filters in bases.")
@click.option(
    "--first-activation",
    type=click.Choice(["relu", "exp", "gelu", "elu", "softplus"]),
    help="First-layer activation [default: the architecture's, relu]; 'exp' makes the "
    "filters of deep towers (resnet, dilated) learn whole motifs.",
)
@click.option(
    "--epochs",
    type=int,
    default=100,
    show_default=True,
    help="Maximum epochs (early stopping usually ends sooner).",
)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option(
    "--lr",
    "--learning-rate",
    "learning_rate",
    type=float,
    default=1e-3,
    show_default=True,
    help="AdamW learning rate.",
)
@click.option("--weight-decay", type=float, default=1e-3, show_default=True)
@click.option(
    "--schedule",
    type=click.Choice(["plateau", "cosine", "constant"]),
    default="plateau",
    show_default=True,
    help="Learning-rate schedule.",
)
@click.option(
    "--patience",
    type=int,
    default=6,
    show_default=True,
    help="Stop after this many epochs without improvement.",
)
@click.option(
    "--grad-clip",
    type=float,
    default=1.0,
    show_default=True,
    help="Clip the gradient norm (0: off).",
)
@click.option("--rc-augment", is_flag=True, help="Train on random reverse complements too.")
@click.option(
    "--shift",
    type=int,
    default=0,
    show_default=True,
    help="Random shifts of up to this many bases.",
)
@click.option(
    "--valid",
    "valid_data",
    type=click.Path(exists=True, file_okay=False),
    help="Separate validation dataset.",
)
@click.option(
    "--test",
    "test_data",
    type=click.Path(exists=True, file_okay=False),
    help="Separate test dataset, evaluated once at the end.",
)
@click.option("--valid-fraction", type=float, default=0.1, show_default=True)
@click.option("--test-fraction", type=float, default=0.0, show_default=True)
@click.option("--valid-chroms", help="Validation chromosomes, e.g. chr8,chr9 (ids chr:start-end).")
@click.option("--test-chroms", help="Test chromosomes, e.g. chr1,chr2.")
@click.option("--loss", type=click.Choice(["mse", "poisson"]), help="Regression loss [mse].")
@click.option("--pos-weight", help="'balanced' or a number: weight of positives (binary tasks).")
@click.option(
    "--n-encoding",
    type=click.Choice(["zeros", "uniform", "iupac"]),
    help="N/ambiguity encoding [default: the dataset's].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same command).")
@click.option("-f", "--force", is_flag=True, help="Replace an existing model folder.")
@click.option("--labels", type=click.Path(), help="FASTA input: label table.")
@click.option("--class-per-file", is_flag=True, help="FASTA input: one class per file.")
@click.option("--header-labels", is_flag=True, help="FASTA input: labels in the headers.")
@click.option(
    "--task",
    type=click.Choice(["binary", "multiclass", "multilabel", "regression"]),
    help="FASTA input: the task [default: inferred].",
)
@click.option("--length", type=int, help="FASTA input: pad/crop to this length.")
@quiet_option
def train(
    data,
    out,
    architecture,
    config_file,
    model_option,
    first_filters,
    first_width,
    first_activation,
    epochs,
    batch_size,
    learning_rate,
    weight_decay,
    schedule,
    patience,
    grad_clip,
    rc_augment,
    shift,
    valid_data,
    test_data,
    valid_fraction,
    test_fraction,
    valid_chroms,
    test_chroms,
    loss,
    pos_weight,
    n_encoding,
    seed,
    device,
    no_amp,
    resume,
    force,
    labels,
    class_per_file,
    header_labels,
    task,
    length,
    quiet,
):
    """Train a network on a dataset (or FASTA + labels) and save a model bundle.

    DATA is a dataset folder from 'seqcnn encode', or FASTA file(s) with labels given as for
    encode.  The bundle (default ./seqcnn_model) holds weights (safetensors), config.json,
    metrics.csv and learning_curve.png.  Multi-process data parallel: run under torchrun,
    e.g. 'torchrun --nproc_per_node 2 -m seqcnn train ...'.

    \b
    Examples:
      seqcnn train planted.ds -o seqcnn_model
      seqcnn train peaks.ds --arch dilated --rc-augment --valid-chroms chr8,chr9
      seqcnn train pos.fa neg.fa --class-per-file --first-activation exp --epochs 20
      seqcnn train planted.ds --resume          # after an interruption
    """
    from .train import TrainOptions
    from .train import train as train_api

    _setup_logging(quiet)
    model_options = {}
    if config_file:
        from .models import load_model_config

        file_architecture, model_options = load_model_config(config_file)
        architecture = architecture or file_architecture
    model_options.update(_parse_model_options(model_option))
    for key, value in (
        ("first_filters", first_filters),
        ("first_width", first_width),
        ("first_activation", first_activation),
    ):
        if value is not None:
            model_options[key] = value
    if pos_weight not in (None, "balanced"):
        try:
            pos_weight = float(pos_weight)
        except ValueError:
            raise click.BadParameter(
                "use 'balanced' or a number", param_hint="--pos-weight"
            ) from None
    options = TrainOptions(
        architecture=architecture or "cnn",
        model_options=model_options,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        schedule=schedule,
        patience=patience,
        grad_clip=grad_clip or None,
        rc_augment=rc_augment,
        shift=shift,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        valid_chroms=_split(valid_chroms),
        test_chroms=_split(test_chroms),
        loss=loss,
        pos_weight=pos_weight,
        n_encoding=n_encoding,
        seed=seed,
        device=device,
        amp=not no_amp,
    )
    encode_options = None
    if labels or class_per_file or header_labels or task or length:
        encode_options = dict(
            labels=labels,
            class_per_file=class_per_file,
            header_labels=header_labels,
            task=task,
            length=length,
        )
    data = list(data) if len(data) > 1 else data[0]
    result = train_api(
        data,
        out,
        valid=valid_data,
        test=test_data,
        options=options,
        resume=resume,
        overwrite=force,
        progress=_progress(quiet),
        encode_options=encode_options,
    )
    if result.path is not None:
        lines = [f"model saved to {result.path}"]
        for split, values in result.metrics.items():
            shown = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
            lines.append(f"{split}: {shown}")
        click.echo("\n".join(lines))


@cli.command(context_settings=CONTEXT)
@click.argument("model_or_config")
@click.option(
    "--length",
    type=int,
    default=None,
    help="Input length for a config or architecture name [default: 200].",
)
@click.option(
    "--outputs",
    type=int,
    default=1,
    show_default=True,
    help="Number of outputs for a config or architecture name.",
)
def describe(model_or_config, length, outputs):
    """Show a model's layers, parameter counts and receptive field.

    MODEL_OR_CONFIG is a model bundle folder, a YAML/JSON model config, or an architecture
    name (cnn, resnet, dilated).

    \b
    Examples:
      seqcnn describe seqcnn_model
      seqcnn describe dilated --length 1000
      seqcnn describe my_model.yaml --outputs 12
    """
    from .models import describe as describe_api

    click.echo(describe_api(_model_or_config(model_or_config, length, outputs)))


def _model_or_config(target: str, length: int | None, outputs: int):
    from pathlib import Path

    from .models import ARCHITECTURES, build_model, load_model_config

    if Path(target).is_dir():
        from .bundle import load_model

        return load_model(target).network
    if target in ARCHITECTURES:
        return build_model(target, length or 200, outputs)
    if Path(target).is_file():
        architecture, options = load_model_config(target)
        return build_model(architecture, length or 200, outputs, **options)
    from .errors import UsageError

    raise UsageError(
        f"not a model folder, a config file, or an architecture name ({', '.join(ARCHITECTURES)})",
        path=target,
    )


@cli.command(context_settings=CONTEXT)
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
def simulate(out, n_sequences, length, motifs, motif_file, counts, seed, prefix):
    """Write a planted-motif data set (Koo & Eddy 2019 recipe).

    Uniform random background; each sequence gets 1-5 instances of JASPAR motifs on either
    strand; one 0/1 label per motif.  Writes PREFIX.fa, PREFIX_labels.tsv,
    PREFIX_instances.tsv and PREFIX_motifs.meme.

    \b
    Examples:
      seqcnn simulate -o demo
      seqcnn encode demo/planted.fa --labels demo/planted_labels.tsv -o demo/planted.ds
    """
    from pathlib import Path

    from .simulate import simulate as simulate_api
    from .simulate import write_simulation

    try:
        probs = [float(p) for p in counts.split(",")]
    except ValueError:
        raise click.BadParameter("comma-separated numbers", param_hint="--counts") from None
    data = simulate_api(
        n_sequences=n_sequences,
        length=length,
        motifs=_split(motifs),
        motif_file=motif_file,
        count_probs=probs,
        seed=seed,
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = write_simulation(data, out, prefix=prefix)
    click.echo(
        f"wrote {len(data.ids)} sequences with {len(data.motif_names)} motifs: "
        + ", ".join(str(p) for p in paths.values()),
        err=True,
    )


@cli.command(context_settings=CONTEXT)
@click.argument("fasta", type=click.Path(allow_dash=True))
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL, else ./seqcnn_model].",
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(allow_dash=True),
    help="Output file, written atomically; format from the extension: .tsv, .csv, "
    ".parquet, with .gz to compress tsv/csv [default: TSV on stdout].",
)
@click.option("--logits", is_flag=True, help="Raw outputs instead of probabilities.")
@click.option(
    "--rc-average/--no-rc-average",
    default=None,
    help="Average each prediction with that of the reverse complement "
    "[default: on for models trained with --rc-augment].",
)
@click.option(
    "--per-window",
    is_flag=True,
    help="One row per window (id, start, end) instead of one per record.",
)
@click.option(
    "--window-stride",
    type=click.IntRange(min=1),
    help="Step between windows of a sequence longer than the model input "
    "[default: half the input length].",
)
@click.option(
    "--aggregate",
    type=click.Choice(["max", "mean"]),
    default="max",
    show_default=True,
    help="How the windows of a long sequence make one row.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True
)
@quiet_option
def predict(
    fasta,
    model_path,
    out,
    logits,
    rc_average,
    per_window,
    window_stride,
    aggregate,
    batch_size,
    device,
    quiet,
):
    """Predict every sequence of a FASTA file with a trained model.

    FASTA may be plain, gzip or bgzip; '-' reads standard input.  The output has the record
    id and one column per model output (probabilities unless --logits).

    \b
    Lengths: the model scores sequences of its input length L.
      shorter than L  padded with N on both sides (centred)
      longer than L   scored in windows of L every --window-stride bases (default L/2, the
                      last window aligned to the end); one row per record with the
                      --aggregate max/mean of its windows, or one row per window
                      (0-based, end-exclusive start/end) with --per-window

    \b
    Examples:
      seqcnn predict peaks.fa.gz > predictions.tsv
      seqcnn predict peaks.fa -m seqcnn_model --rc-average -o predictions.parquet
      zcat chr21.fa.gz | seqcnn predict - --per-window --window-stride 50 -o scan.tsv.gz
    """
    from .bundle import load_model
    from .predict import predict_file

    _setup_logging(quiet)
    model = load_model(model_path)
    rows = predict_file(
        model,
        fasta,
        out,
        batch_size=batch_size,
        rc_average=rc_average,
        logits=logits,
        per_window=per_window,
        window_stride=window_stride,
        aggregate=aggregate,
        device=device,
        progress=_progress(quiet),
    )
    if out not in (None, "-") and not quiet:
        click.echo(f"wrote {out}: {rows} {'windows' if per_window else 'records'}", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("fasta", type=click.Path())
@click.option(
    "-n",
    "--shards",
    "n_shards",
    required=True,
    type=click.IntRange(min=1),
    help="Number of shards (more than records: the last ones are empty files).",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the shards into (created if missing).",
)
@click.option(
    "--pattern",
    default="shard_{index}.fa",
    show_default=True,
    help="Shard file name; {index} is the shard number (000, 001, ...); .gz compresses.",
)
@click.option(
    "--multiple-of",
    "multiple",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Shards hold whole multiples of this many records (predict's --batch-size), so "
    "gathered predictions equal one run bit for bit; 1 balances to one record.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def split(fasta, n_shards, out_dir, pattern, multiple, quiet):
    """Split a FASTA file into shards of consecutive records, to predict them in parallel.

    Shard k holds the next records in input order, as many as possible in whole multiples
    of --multiple-of records (the batch size of 'seqcnn predict').  Records are copied
    unchanged; the file is streamed twice, never loaded whole.  Gather the shards'
    predictions with 'seqcnn gather' (workflows/Snakefile does both).

    \b
    Examples:
      seqcnn split windows.fa.gz -n 20 -o shards
      seqcnn predict shards/shard_000.fa -o tables/shard_000.tsv   # one job per shard
      seqcnn split windows.fa.gz -n 200 -o shards --pattern 'part_{index}.fa.gz'
    """
    from .shard import split_fasta

    shards = split_fasta(fasta, n_shards, out_dir, pattern=pattern, multiple=multiple)
    if not quiet:
        sizes = sorted({shard.records for shard in shards})
        shown = " or ".join(map(str, sizes))
        click.echo(f"wrote {len(shards)} shards of {shown} records to {out_dir}", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("tables", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(allow_dash=True),
    help="Output file, written atomically; format from the extension as for predict "
    "[default: TSV on stdout].",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def gather(tables, out, quiet):
    """Concatenate prediction tables in the order given, with one header.

    TABLES are tables from 'seqcnn predict' with the same columns (.tsv, .csv, .gz,
    .parquet; formats may be mixed).  Gathering the tables of 'seqcnn split' shards, in shard
    order, gives the table of the whole file.

    \b
    Examples:
      seqcnn gather tables/shard_000.tsv tables/shard_001.tsv -o predictions.tsv
      seqcnn gather tables/shard_*.parquet -o predictions.parquet   # names sort in order
    """
    from .shard import gather_tables

    rows = gather_tables(list(tables), out)
    if out not in (None, "-") and not quiet:
        click.echo(f"wrote {out}: {rows} rows from {len(tables)} tables", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("sequences", type=click.Path(allow_dash=True))
@click.option(
    "-m",
    "--model",
    "model_path",
    type=click.Path(),
    help="Model bundle folder [default: $SEQCNN_MODEL or ./seqcnn_model].",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Folder to write (written atomically).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.5,
    show_default=True,
    help="A window is a site when its activation exceeds this fraction of the filter's maximum.",
)
@click.option("--top-k", type=int, help="Use each filter's K best windows instead of --threshold.")
@click.option(
    "--min-sites",
    type=int,
    default=10,
    show_default=True,
    help="Filters with fewer sites are reported but not exported as motifs.",
)
@click.option("--pseudocount", type=float, default=0.1, show_default=True)
@click.option("--trim", is_flag=True, help="Cut low-information edges (< 0.2 bits) off motifs.")
@click.option(
    "--motif-db",
    default="jaspar",
    show_default=True,
    help="'jaspar' (JASPAR CORE vertebrates, from pyjaspar), a MEME motif file, or 'none'.",
)
@click.option(
    "--matches", "n_matches", type=int, default=3, show_default=True, help="Matches per filter."
)
@click.option("--no-influence", is_flag=True, help="Skip filter influence (nullification).")
@click.option(
    "--order",
    type=click.Choice(["influence", "ic"]),
    default="influence",
    show_default=True,
    help="Order of the overview figure and the report table.",
)
@click.option(
    "--max-sequences",
    type=int,
    default=10000,
    show_default=True,
    help="Use a random sample (fixed seed) of at most this many sequences; 0 for all.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["png", "svg", "pdf"]),
    help="Also write logos in this format (repeatable); PNG is always written.",
)
@click.option(
    "--attribution",
    type=click.Choice(["saliency", "ism"]),
    help="Attribution maps of the first sequences: gradient x input, or in-silico mutagenesis.",
)
@click.option("--target", help="Output to explain with --attribution (name or index).")
@click.option(
    "--attribution-sequences",
    type=int,
    default=5,
    show_default=True,
    help="Attribution maps for this many sequences (the first records).",
)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("-f", "--force", is_flag=True, help="Replace an existing output folder.")
@quiet_option
def interpret(
    sequences,
    model_path,
    out,
    threshold,
    top_k,
    min_sites,
    pseudocount,
    trim,
    motif_db,
    n_matches,
    no_influence,
    order,
    max_sequences,
    formats,
    attribution,
    target,
    attribution_sequences,
    batch_size,
    device,
    force,
    quiet,
):
    """Explain a model: filter motifs, logos, JASPAR matches, influence and a report.

    SEQUENCES is a FASTA file (plain, gzip or bgzip; '-' for standard input), padded or
    cropped to the model's input length.  Writes OUT/report.html (self-contained),
    filters.tsv, matches.tsv, filters.meme, matrices/, logos/ and overview.png.

    \b
    Examples:
      seqcnn interpret -m seqcnn_model peaks.fa -o peaks_interpret
      seqcnn interpret peaks.fa -o out --motif-db my_motifs.meme --format svg
      seqcnn interpret peaks.fa -o out --attribution ism --target CTCF --force
    """
    from .interpret import interpret as interpret_api

    _setup_logging(quiet)
    result = interpret_api(
        model_path,
        sequences,
        out,
        threshold=threshold,
        top_k=top_k,
        min_sites=min_sites,
        pseudocount=pseudocount,
        trim=trim,
        motif_db=motif_db,
        n_matches=n_matches,
        influence=not no_influence,
        order=order,
        max_sequences=max_sequences,
        formats=formats,
        attribution=attribution,
        target=target,
        attribution_sequences=attribution_sequences,
        batch_size=batch_size,
        overwrite=force,
        progress=_progress(quiet),
        device=device,
    )
    click.echo(result.summary())


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqcnn`` console script."""
    from .errors import SeqcnnError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("SEQCNN_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="seqcnn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("seqcnn: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except SeqcnnError as err:
        if debug:
            raise
        click.echo(f"seqcnn: error: {err.format()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("seqcnn: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except OSError as err:
        if debug:
            raise
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        click.echo(f"seqcnn: error: {where}{err.strerror or err}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
