"""Saving and loading trained models: weights as safetensors, everything else as JSON.

A model bundle is a folder (``./seqcnn_model`` by default)::

    config.json          architecture and its options, input length, alphabet, task, output
                         names, output transform, N encoding, receptive field, versions,
                         training data hash and options, final metrics, weights checksum
    weights.safetensors  the network's tensors
    metrics.csv          per-epoch training history
    learning_curve.png   the same, drawn

Loading rebuilds the network from ``config.json`` and copies the tensors in.  Nothing in a
bundle is ever unpickled or executed, so a bundle from a stranger is safe to open.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = [
    "Model",
    "as_model",
    "save_model",
    "load_model",
    "find_model",
    "check_config",
    "FORMAT",
    "MAX_INPUT_LENGTH",
]

FORMAT = "seqcnn-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_DIR = "seqcnn_model"
WEIGHTS_FILE = "weights.safetensors"


class Model:
    """A trained network with everything needed to use it.

    Attributes
    ----------
    network
        The :class:`seqcnn.models.SeqCNN`, in eval mode.
    config
        The bundle's ``config.json`` as a dict.
    path
        The bundle folder it was loaded from (``None`` if not saved).

    Examples
    --------
    >>> model = load_model("seqcnn_model")  # doctest: +SKIP
    >>> model.task, model.output_names, model.input_length  # doctest: +SKIP
    ('binary', ['bound'], 200)
    >>> seqcnn.predict(model, ["ACGT" * 50])  # doctest: +SKIP
    """

    def __init__(self, network, config: dict[str, Any], path: Path | None = None):
        self.network = network.eval()
        self.config = config
        self.path = path

    @property
    def task(self) -> str:
        return self.config["task"]

    @property
    def output_names(self) -> list[str]:
        return list(self.config["output_names"])

    @property
    def input_length(self) -> int:
        return int(self.config["input_length"])

    @property
    def n_encoding(self) -> str:
        return self.config["n_encoding"]

    @property
    def transform(self) -> str:
        return self.config["output_transform"]

    @property
    def receptive_field(self) -> int:
        return int(self.config["receptive_field"])

    @property
    def rc_average(self) -> bool:
        """Whether predictions average both strands by default (trained with
        ``--rc-augment``)."""
        return bool(self.config.get("rc_average", False))

    @property
    def head_kind(self) -> str:
        """``"sequence"`` (one value per output) or ``"position"`` (a track per output
        along the sequence), as the network's head declares it."""
        return getattr(self.network, "head_kind", "sequence")

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one sequence's output, as the network's head declares it (``(T,)``
        for a sequence head)."""
        shape = getattr(self.network, "output_shape", None)
        if callable(shape):
            return tuple(shape(self.input_length))
        return (len(self.output_names),)

    @property
    def source(self) -> str:
        """Where the model came from, for messages and reports."""
        return str(self.path) if self.path is not None else "(in memory)"

    def __repr__(self) -> str:
        where = f"'{self.path}', " if self.path else ""
        return (
            f"Model({where}{self.config['model']['architecture']}, task={self.task}, "
            f"input_length={self.input_length}, outputs={self.output_names})"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def save_model(network, config: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write a network's weights and config into ``folder`` (which must exist).

    ``config`` gets the ``format`` fields, the weights checksum, and the model description
    (``network.config``) filled in; the caller provides task, output names and the rest.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(weights), metadata={"format": FORMAT})
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": network.config,
        **config,
        "weights": {"file": weights.name, "sha256": _sha256(weights)},
    }
    (folder / "config.json").write_text(json.dumps(full, indent=2, default=_json_default) + "\n")
    return folder


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def find_model(path: str | os.PathLike | None = None) -> Path:
    """The model folder to use: ``path``, else ``$SEQCNN_MODEL``, else ``./seqcnn_model``.

    Raises
    ------
    ModelError
        When no bundle is found, with a hint on how to train or point to one.
    """
    candidate = path or os.environ.get("SEQCNN_MODEL") or DEFAULT_MODEL_DIR
    candidate = Path(candidate)
    if not (candidate / "config.json").is_file():
        origin = (
            "given with -m/--model"
            if path
            else "from $SEQCNN_MODEL"
            if os.environ.get("SEQCNN_MODEL")
            else "the default"
        )
        raise ModelError(
            f"no model bundle here ({origin}); train one with 'seqcnn train DATASET -o "
            f"{DEFAULT_MODEL_DIR}' or point to one with -m PATH or SEQCNN_MODEL=PATH",
            path=str(candidate),
        )
    return candidate


#: The longest input a bundle may declare: far beyond any real model, far below what would
#: exhaust memory before the weights are even read.
MAX_INPUT_LENGTH = 10_000_000
MAX_OUTPUTS = 1_000_000
MAX_CONFIG_BYTES = 16 << 20
# The transforms each task's outputs may go through (see seqcnn.forward.output_transform).
_TASK_TRANSFORMS = {
    "binary": ("sigmoid",),
    "multilabel": ("sigmoid",),
    "multiclass": ("softmax",),
    "regression": ("identity", "exp"),
    "segmentation": ("sigmoid",),
    "profile": ("exp",),
}


def _whole(value, what: str, low: int, high: int) -> int:
    """``value`` as a whole number in ``[low, high]``, else a ModelError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelError(f"config.json: {what} must be a whole number from {low:,} to {high:,}, "
                         f"got {value!r}")  # fmt: skip
    return value


def _one_of(value, what: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ModelError(f"config.json: {what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_config(config: dict[str, Any]) -> None:
    """Check every field of a bundle's ``config.json`` that loading and using it reads.

    Types and ranges are checked before anything is built, so a damaged or hostile file
    fails with one line instead of allocating memory or reporting the wrong values.

    Raises
    ------
    ModelError
        Naming the field, what it must be and what it is (the caller adds the bundle path).
    """
    from .alphabet import N_ENCODINGS
    from .forward import TRANSFORMS
    from .labels import HEAD_KINDS, TASKS, task_head_kind

    network = config.get("model")
    if not isinstance(network, dict) or not isinstance(network.get("architecture"), str):
        raise ModelError("config.json: 'model' must describe the network "
                         "({'architecture': ..., 'input_length': ..., ...})")  # fmt: skip
    if not isinstance(network.get("options", {}), dict):
        raise ModelError("config.json: model.options must be a mapping of option names")
    length = _whole(config.get("input_length"), "input_length", 1, MAX_INPUT_LENGTH)
    built = _whole(network.get("input_length"), "model.input_length", 1, MAX_INPUT_LENGTH)
    if length != built:
        raise ModelError(
            f"config.json: input_length is {length} but the network was built for "
            f"{built} bases (model.input_length): the file was edited or mixes two models; "
            f"set input_length back to {built}"
        )
    n_outputs = _whole(network.get("n_outputs"), "model.n_outputs", 1, MAX_OUTPUTS)
    task = _one_of(config.get("task"), "task", TASKS)
    # Bundles written before heads were named have no model.head: a sequence head.
    head = _one_of(network.get("head", "sequence"), "model.head", HEAD_KINDS)
    if head != task_head_kind(task):
        raise ModelError(f"config.json: a {task} task needs a {task_head_kind(task)} head, "
                         f"model.head is {head!r}")  # fmt: skip
    names = config.get("output_names")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ModelError(f"config.json: output_names must be a list of names, got {names!r}")
    if len(names) != n_outputs or len(set(names)) != len(names):
        raise ModelError(
            f"config.json: output_names must be {n_outputs} different names, one per output "
            f"(model.n_outputs), got {len(names)}"
            + (" with repeats" if len(set(names)) != len(names) else "")
        )
    if "output_transform" in config:
        transform = _one_of(config["output_transform"], "output_transform", TRANSFORMS)
        if transform not in _TASK_TRANSFORMS[task]:
            raise ModelError(
                f"config.json: output_transform {transform!r} does not fit a {task} task "
                f"(expected {' or '.join(_TASK_TRANSFORMS[task])})"
            )
    if "n_encoding" in config:
        _one_of(config["n_encoding"], "n_encoding", N_ENCODINGS)
    if "receptive_field" in config:
        _whole(config["receptive_field"], "receptive_field", 1, 2**62)
    if not isinstance(config.get("rc_average", False), bool):
        raise ModelError(f"config.json: rc_average must be true or false, "
                         f"got {config['rc_average']!r}")  # fmt: skip
    weights = config.get("weights", {})
    if not (
        isinstance(weights, dict)
        and isinstance(weights.get("file", ""), str)
        and isinstance(weights.get("sha256", ""), str)
    ):
        raise ModelError(
            "config.json: weights must be {'file': name, 'sha256': 'sha256:...'}, "
            f"got {weights!r}"
        )
    file = weights.get("file", WEIGHTS_FILE)
    if not file or Path(file).name != file or file in (".", ".."):
        raise ModelError(
            f"config.json: weights.file must be a file name in the bundle folder, got {file!r}"
        )


def _check_weights(network, weights: Path) -> None:
    """Compare the tensors' names and shapes in a safetensors file (read from its header,
    not loaded) with those of ``network``, which may live on the meta device."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"weights are not readable safetensors ({err})") from None
    expected = {key: tuple(value.shape) for key, value in network.state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        detail = (f"missing tensor(s) {', '.join(missing[:3])}" if missing
                  else f"unexpected tensor(s) {', '.join(unexpected[:3])}")  # fmt: skip
        raise ModelError(f"weights do not fit the architecture in config.json: {detail}")
    for key, shape in expected.items():
        if shapes[key] != shape:
            raise ModelError(
                f"weights do not fit the architecture in config.json: tensor '{key}' is "
                f"{'x'.join(map(str, shapes[key]))} in the weights but "
                f"{'x'.join(map(str, shape))} in the network config.json describes"
            )


def load_model(path: str | os.PathLike | None = None, device: str = "cpu") -> Model:
    """Load a model bundle; never unpickles or runs code from it.

    Every field of ``config.json`` is checked (:func:`check_config`), and the network it
    describes is laid out without memory and compared with the weights file's tensor
    shapes, before anything is allocated; weights holding NaN or infinite values are
    refused.

    Parameters
    ----------
    path
        Bundle folder; default ``$SEQCNN_MODEL`` or ``./seqcnn_model``.
    device
        Where to put the network (``cpu``, ``cuda``, ...).

    Raises
    ------
    ModelError
        Missing bundle, corrupt or mismatched ``config.json`` or weights, one line naming
        the bundle.

    Examples
    --------
    >>> model = load_model("seqcnn_model")  # doctest: +SKIP
    >>> seqcnn.predict(model, ["ACGT" * 50])  # doctest: +SKIP
    """
    folder = find_model(path)
    name = str(folder)
    try:
        if (folder / "config.json").stat().st_size > MAX_CONFIG_BYTES:
            raise ModelError(f"config.json is larger than {MAX_CONFIG_BYTES >> 20} MB", path=name)
        config = json.loads((folder / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ModelError(f"config.json is not valid JSON ({err})", path=name) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelError("config.json is not a seqcnn model description", path=name)
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"model format version {config.get('format_version')} is not supported by this "
            f"seqcnn (reads version {FORMAT_VERSION}); upgrade seqcnn",
            path=name,
        )
    if config.get("alphabet", "ACGT") != "ACGT":
        raise ModelError(
            f"model was trained on alphabet '{config.get('alphabet')}', seqcnn reads ACGT",
            path=name,
        )
    try:
        check_config(config)
        network = _load_network(folder, config)
    except ModelError as err:
        raise ModelError(err.message, path=name) from None
    return Model(network.to(device), config, path=folder)


def _load_network(folder: Path, config: dict[str, Any]):
    """Build the network of a checked config and load its weights (ModelError without
    the bundle's path, which the caller adds)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .errors import UsageError
    from .models import build_model

    weights = folder / config.get("weights", {}).get("file", WEIGHTS_FILE)
    if not weights.is_file():
        raise ModelError(f"weights file '{weights.name}' is missing")
    expected = config.get("weights", {}).get("sha256")
    if expected and _sha256(weights) != expected:
        raise ModelError(
            "weights do not match config.json (checksum differs): the bundle is corrupt or "
            "its files come from different models"
        )
    try:
        with torch.device("meta"):  # shapes only: nothing allocated
            _check_weights(build_model(**config["model"]), weights)
        network = build_model(**config["model"])
    except (KeyError, TypeError, ValueError, RuntimeError, UsageError) as err:
        raise ModelError(f"config.json does not describe a known model ({err})") from None
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"weights are not readable safetensors ({err})") from None
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(
                f"weights hold NaN or infinite values (tensor '{key}'): the training "
                "diverged or the file is damaged; retrain (e.g. with a lower --lr)"
            )
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelError(f"weights do not fit the architecture: {detail}") from None
    return network


def as_model(model: Any = None, device: str | None = None) -> Model:
    """The one model view, whatever the caller holds.

    Parameters
    ----------
    model
        A :class:`Model`; a bundle folder (``None``: ``$SEQCNN_MODEL`` or
        ``./seqcnn_model``); or a bare network with a ``.config`` dict giving at least its
        ``input_length`` (a :class:`seqcnn.models.SeqCNN`), whose outputs are then named
        ``output_0``, ``output_1``, ... and kept as raw values.
    device
        Move the network there (``"cpu"``, ``"cuda"``, ``"auto"``, ...); ``None`` leaves it
        where it is.

    Raises
    ------
    ModelError
        A bundle that cannot be loaded, or a model trained on another alphabet.
    UsageError
        Something that is none of the above.

    Examples
    --------
    >>> from seqcnn.models import build_model
    >>> view = as_model(build_model("cnn", input_length=50, n_outputs=2))
    >>> view.output_names, view.input_length, view.transform
    (['output_0', 'output_1'], 50, 'identity')
    """
    from .forward import pick_device

    if isinstance(model, Model):
        view = model
    elif model is None or isinstance(model, (str, os.PathLike)):
        return load_model(model, device=str(pick_device(device or "cpu")))
    else:
        view = _bare_network_view(model)
    if view.config.get("alphabet", "ACGT") != "ACGT":
        raise ModelError(
            f"model was trained on alphabet '{view.config['alphabet']}', seqcnn reads ACGT",
            path=view.path,
        )
    if device is not None:
        view.network.to(pick_device(device))
    return view


def _bare_network_view(network: Any) -> Model:
    from .errors import UsageError

    config = getattr(network, "config", None)
    if not hasattr(network, "parameters") or not isinstance(config, dict):
        raise UsageError(
            "expected a seqcnn Model (seqcnn.load_model), a bundle folder, or a network with a "
            f".config dict giving its input_length; got {type(network).__name__}"
        )
    length = config.get("input_length") or (config.get("model") or {}).get("input_length")
    if not length:
        raise UsageError("the network's .config does not give its input_length")
    n_outputs = int(config.get("n_outputs") or 1)
    view_config = {
        "task": config.get("task"),
        "output_names": config.get("output_names") or [f"output_{i}" for i in range(n_outputs)],
        "input_length": int(length),
        "n_encoding": config.get("n_encoding", "zeros"),
        "output_transform": config.get("output_transform", "identity"),
        "rc_average": bool(config.get("rc_average", False)),
        "alphabet": config.get("alphabet", "ACGT"),
        "model": config,
    }
    view = Model.__new__(Model)  # keep the network's own train/eval mode
    view.network, view.config, view.path = network, view_config, None
    return view
