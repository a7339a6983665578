"""``seqcnn train``: dataset (or FASTA + labels) -> model bundle (:func:`seqcnn.training.train`)."""

from __future__ import annotations

import click

from ..alphabet import N_ENCODINGS
from ..labels import MISSING_POLICIES, TASKS
from ..models.names import ACTIVATIONS, ARCHITECTURE_NAMES
from ..training import REGRESSION_LOSSES, SCHEDULES, TUNE_SELECTIONS
from .options import (
    CONTEXT,
    DEVICE_HELP,
    progress,
    quiet_option,
    setup_logging,
    split_list,
    threads_option,
    use_threads,
)


@click.command(context_settings=CONTEXT)
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
    type=click.Choice(ARCHITECTURE_NAMES),
    help="Architecture [default: the one in --config, else unet for a segmentation "
    "dataset, bpnet for a profile dataset, cnn for any other].",
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
    type=click.Choice(ACTIVATIONS),
    help="First-layer activation [default: the architecture's: exp for resnet and dilated "
    "(their filters then learn whole motifs), relu for the others].",
)
@click.option(
    "--epochs",
    type=int,
    default=100,
    show_default=True,
    help="Maximum epochs (early stopping usually ends sooner).",
)
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="[default: 64; 32 below 8,000 training sequences].",
)
@click.option(
    "--lr",
    "--learning-rate",
    "learning_rate",
    type=float,
    default=None,
    help="AdamW learning rate [default: 1e-3].",
)
@click.option(
    "--weight-decay",
    type=float,
    default=None,
    help="[default: 1e-3; 1e-2 below 10,000 training sequences].",
)
@click.option(
    "--schedule",
    type=click.Choice(SCHEDULES),
    default="plateau",
    show_default=True,
    help="Learning-rate schedule.",
)
@click.option(
    "--patience",
    type=int,
    default=None,
    help="Stop after this many epochs without improvement [default: 120,000 / training "
    "sequences, within 6..20].",
)
@click.option(
    "--grad-clip",
    type=float,
    default=1.0,
    show_default=True,
    help="Clip the gradient norm (0: off).",
)
@click.option(
    "--rc-augment/--no-rc-augment",
    default=False,
    show_default=True,
    help="Train (and predict) on both strands: for double-stranded DNA where a site counts "
    "on either strand (peaks, motifs); not for strand-specific data (RNA, splice sites).",
)
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
@click.option("--loss", type=click.Choice(REGRESSION_LOSSES), help="Regression loss [mse].")
@click.option("--pos-weight", help="'balanced' or a number: weight of positives (binary tasks).")
@click.option(
    "--count-weight",
    type=float,
    help="Profile task: weight of the counts loss [default: median total count / 10].",
)
@click.option(
    "--n-encoding",
    type=click.Choice(N_ENCODINGS),
    help="N/ambiguity encoding [default: the dataset's].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA.")
@threads_option
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same command).")
@click.option("-f", "--force", is_flag=True, help="Replace an existing model folder.")
@click.option("--labels", type=click.Path(), help="FASTA input: label table.")
@click.option("--class-per-file", is_flag=True, help="FASTA input: one class per file.")
@click.option("--header-labels", is_flag=True, help="FASTA input: labels in the headers.")
@click.option(
    "--task",
    type=click.Choice(TASKS),
    help="FASTA input: the task [default: inferred].",
)
@click.option(
    "--missing-labels",
    type=click.Choice(MISSING_POLICIES),
    default="error",
    show_default=True,
    help="FASTA input: records with a missing label are an error, dropped, or masked.",
)
@click.option("--length", type=int, help="FASTA input: pad/crop to this length.")
@click.option(
    "--tune",
    "tune_trials",
    type=int,
    default=None,
    metavar="N",
    help="Search N trials of the options you did not set (Optuna, validation split only; "
    "the best model is saved, with tuning.csv). Needs pip install 'seqcnn[tune]'.",
)
@click.option(
    "--tune-time",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Stop starting tuning trials after this many seconds (alone: trials until then).",
)
@click.option(
    "--tune-select",
    type=click.Choice(TUNE_SELECTIONS),
    default="significant",
    show_default=True,
    help="Which trial --tune saves: the best only if it leads the defaults significantly "
    "on the validation split (by 1.96 paired bootstrap standard errors), or the best.",
)
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
    count_weight,
    n_encoding,
    seed,
    device,
    no_amp,
    threads,
    resume,
    force,
    labels,
    class_per_file,
    header_labels,
    task,
    missing_labels,
    length,
    tune_trials,
    tune_time,
    tune_select,
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
    from ..training import TrainOptions
    from ..training import train as train_api

    setup_logging(quiet)
    use_threads(threads)
    model_options = {}
    if config_file:
        from ..models import load_model_config

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
        architecture=architecture,
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
        valid_chroms=split_list(valid_chroms),
        test_chroms=split_list(test_chroms),
        loss=loss,
        pos_weight=pos_weight,
        count_weight=count_weight,
        n_encoding=n_encoding,
        seed=seed,
        device=device,
        amp=not no_amp,
    )
    encode_options = None
    if labels or class_per_file or header_labels or task or length or missing_labels != "error":
        encode_options = dict(
            labels=labels,
            class_per_file=class_per_file,
            header_labels=header_labels,
            task=task,
            missing_labels=missing_labels,
            length=length,
        )
    data = list(data) if len(data) > 1 else data[0]
    if tune_trials is not None or tune_time is not None:
        from ..training.tune import tune as tune_api

        if encode_options is not None:
            raise click.UsageError("--tune works on an encoded dataset: run 'seqcnn encode' first")
        result = tune_api(
            data,
            out,
            n_trials=tune_trials,
            timeout=tune_time,
            valid=valid_data,
            test=test_data,
            options=options,
            resume=resume,
            overwrite=force,
            select=tune_select,
        )
    else:
        result = train_api(
            data,
            out,
            valid=valid_data,
            test=test_data,
            options=options,
            resume=resume,
            overwrite=force,
            progress=progress(quiet),
            encode_options=encode_options,
        )
    if result.path is not None:
        lines = [f"model saved to {result.path}"]
        for split, values in result.metrics.items():
            shown = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
            lines.append(f"{split}: {shown}")
        tuning = result.model.config.get("training", {}).get("tuning")
        if tuning:
            lines.append(
                f"tuning: {tuning['trials']} trials ({tuning['pruned']} pruned), best trial "
                f"{tuning['best_trial']}; trials in {result.path / 'tuning.csv'}"
            )
        click.echo("\n".join(lines))


def _parse_model_options(pairs: tuple[str, ...]) -> dict:
    """``("dilated_layers=8", "conv_filters=[8]")`` -> ``{"dilated_layers": 8, ...}``.

    Values are read as YAML, so numbers, lists and booleans arrive typed.
    """
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--option")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options
