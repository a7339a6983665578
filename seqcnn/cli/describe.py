"""``seqcnn describe``: layers, parameters and receptive field (:func:`seqcnn.models.describe`)."""

from __future__ import annotations

import click

from .options import CONTEXT


@click.command(context_settings=CONTEXT)
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
    name (cnn, resnet, dilated).  For a name or config, options that depend on the length
    (pooling, depth) and are not set follow --length; the last line says what was chosen.

    \b
    Examples:
      seqcnn describe seqcnn_model
      seqcnn describe dilated --length 1000
      seqcnn describe my_model.yaml --outputs 12
    """
    from ..models import describe as describe_api

    network = _model_or_config(model_or_config, length, outputs)
    click.echo(describe_api(network))
    sized = getattr(network, "sized_options", None)
    if sized:
        chosen = ", ".join(f"{name}={value}" for name, value in sized.items())
        click.echo(
            f"chosen for {network.input_length} bp (length-aware defaults, "
            f"seqcnn.models.sizing): {chosen}"
        )


def _model_or_config(target: str, length: int | None, outputs: int):
    """The network a bundle folder holds, or one built from an architecture name or config."""
    from pathlib import Path

    from ..models import ARCHITECTURES, build_model, load_model_config

    if Path(target).is_dir():
        from ..bundle import load_model

        return load_model(target).network
    if target in ARCHITECTURES:
        return build_model(target, length or 200, outputs)
    if Path(target).is_file():
        architecture, options = load_model_config(target)
        return build_model(architecture, length or 200, outputs, **options)
    from ..errors import UsageError

    raise UsageError(
        f"not a model folder, a config file, or an architecture name ({', '.join(ARCHITECTURES)})",
        path=target,
    )
