"""One forward pass: device choice, eval mode, autocast, batches, output transforms.

Everything that runs a trained network on sequences — :mod:`seqcnn.predict`,
:mod:`seqcnn.attribution`, filter influence, training's evaluation and (next) variant
scoring — goes through this module, so the device, the mode, the precision, the one-hot
expansion and the transforms are decided in one place.

* :func:`pick_device` turns ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into
  a ``torch.device`` (an error when the asked-for accelerator is missing).
* :func:`evaluating` puts a network in eval mode for a block and restores every module's
  mode after.
* :class:`OneHotBatches` turns ``(B, L)`` ``uint8`` codes into ``(B, 4, L)`` float tensors on
  the device: numpy look-ups on a CPU, a table gather on an accelerator (one byte per base
  crosses the bus).
* :func:`apply_transform`, :func:`invert_transform` and :func:`strand_mean` turn raw
  outputs into the model's output scale (sigmoid, softmax over the last axis, exp, identity)
  and average the two strands after the transform.
* :func:`run_network` runs a network over an array of codes or one-hot sequences in
  batches, optionally on both strands, and returns numpy outputs; :func:`stream_outputs`
  does the same for a stream of chunks, keeping the CPU streams busy between them.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .allocator import reuse_freed_memory
from .alphabet import ONE_HOT_TABLES, check_n_encoding
from .errors import UsageError
from .onehot import codes_to_one_hot, rc, reverse_complement_codes
from .streams import StreamPlan, Streams, stream_plan

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICES",
    "OUTPUT_TRANSFORMS",
    "TRANSFORMS",
    "pick_device",
    "network_device",
    "autocast",
    "evaluating",
    "output_transform",
    "apply_transform",
    "invert_transform",
    "strand_mean",
    "OneHotBatches",
    "activation_floats",
    "network_plan",
    "sub_batches",
    "run_network",
    "stream_outputs",
]

#: Values ``--device`` accepts besides ``cuda:N``.
DEVICES = ("auto", "cpu", "cuda", "mps")

#: Output transform per task: logits -> predictions.
OUTPUT_TRANSFORMS = {
    "binary": "sigmoid",
    "multilabel": "sigmoid",
    "multiclass": "softmax",
    "regression": "identity",
    "segmentation": "sigmoid",  # per base and track
    "profile": "exp",  # log expected counts -> expected counts per base
}
#: Every named output transform.
TRANSFORMS = ("sigmoid", "softmax", "exp", "identity")


# ------------------------------------------------------------------------------ devices


def pick_device(name: str | None = "auto") -> torch.device:
    """The ``torch.device`` for a device name.

    Parameters
    ----------
    name
        ``"auto"`` (or ``None``: CUDA, else MPS, else the CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``.

    Raises
    ------
    UsageError
        An accelerator was asked for that this machine does not have.

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    import torch

    name = "auto" if name is None else str(name)
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available")
    if name == "mps" and not has_mps:
        raise UsageError("--device mps was asked for but MPS is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UsageError(
            f"unknown device '{name}'; choose one of {', '.join(DEVICES)} or cuda:N"
        ) from None


def network_device(network: Any) -> torch.device:
    """The device of a network's first parameter (the CPU for a network without any)."""
    import torch

    parameters = network.parameters() if hasattr(network, "parameters") else iter(())
    parameter = next(iter(parameters), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def network_dtype(network: Any) -> torch.dtype:
    """The floating dtype of a network's first parameter (float32 without any)."""
    import torch

    parameters = network.parameters() if hasattr(network, "parameters") else iter(())
    parameter = next(iter(parameters), None)
    return parameter.dtype if parameter is not None else torch.float32


def autocast(device: torch.device, amp_dtype: torch.dtype | None):
    """``torch.autocast`` for ``device`` with ``amp_dtype``; a no-op context for ``None``."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=device.type, dtype=amp_dtype)


@contextlib.contextmanager
def evaluating(network: Any) -> Iterator[Any]:
    """Eval mode (batch norm on running statistics, no dropout) for a block; every module's
    own mode is restored after, so a network in the middle of training is left as it was."""
    modes = [(module, module.training) for module in network.modules()]
    network.eval()
    try:
        yield network
    finally:
        for module, training in modes:
            module.training = training


# ----------------------------------------------------------------------- output transforms


def output_transform(task: str, loss: str | None = None) -> str:
    """Name of the function that turns logits into predictions for a task.

    Examples
    --------
    >>> output_transform("multiclass"), output_transform("regression", loss="poisson")
    ('softmax', 'exp')
    """
    if task == "regression" and loss == "poisson":
        return "exp"
    return OUTPUT_TRANSFORMS[task]


def _check_transform(name: str | None) -> None:
    if name is not None and name not in TRANSFORMS:
        raise UsageError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORMS)}")


def apply_transform(logits: torch.Tensor, name: str | None) -> torch.Tensor:
    """Apply an output transform to a tensor of raw outputs.

    ``sigmoid`` and ``exp`` act element-wise; ``softmax`` normalises over the last axis (the
    classes); ``identity`` and ``None`` return the logits unchanged.
    """
    import torch

    _check_transform(name)
    if name == "sigmoid":
        return torch.sigmoid(logits)
    if name == "softmax":
        return torch.softmax(logits, dim=-1)
    if name == "exp":
        return torch.exp(logits)
    return logits


def strand_mean(forward: torch.Tensor, reverse: torch.Tensor, name: str | None) -> torch.Tensor:
    """Mean of the predictions for a sequence and its reverse complement, taken after the
    output transform ``name`` (``None``: on the raw logits)."""
    return (apply_transform(forward, name) + apply_transform(reverse, name)) / 2


def invert_transform(values: torch.Tensor, name: str | None) -> torch.Tensor:
    """Logits that :func:`apply_transform` maps to ``values`` (probabilities are clamped
    away from 0 and 1 so that the logits stay finite)."""
    import torch

    _check_transform(name)
    if name == "sigmoid":
        values = values.clamp(1e-7, 1 - 1e-7)
        return torch.log(values) - torch.log1p(-values)
    if name in ("softmax", "exp"):
        return torch.log(values.clamp_min(1e-30))
    return values


# ------------------------------------------------------------------------- one-hot batches


class OneHotBatches:
    """Codes -> one-hot float tensors on a device.

    Parameters
    ----------
    device
        Where the tensors go.
    n_encoding
        How N and ambiguity codes become channel values (see :mod:`seqcnn.alphabet`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> to_tensor = OneHotBatches(torch.device("cpu"))
    >>> to_tensor(np.array([[0, 1, 4]], dtype=np.uint8))[0].tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, device: torch.device, n_encoding: str = "zeros"):
        import torch

        check_n_encoding(n_encoding)
        # Every CPU forward path starts here: keep activations' memory between batches.
        reuse_freed_memory()
        self.device = device
        self.n_encoding = n_encoding
        self.on_cpu = device.type == "cpu"
        self.table = None if self.on_cpu else torch.from_numpy(ONE_HOT_TABLES[n_encoding])
        if self.table is not None:
            self.table = self.table.to(device)

    def __call__(self, codes: np.ndarray) -> torch.Tensor:
        """``(B, L)`` uint8 codes (or an already one-hot ``(B, 4, L)`` array) as a tensor."""
        import torch

        codes = np.asarray(codes)
        if codes.dtype != np.uint8:  # already one-hot
            x = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
            return x if self.on_cpu else x.to(self.device, non_blocking=True)
        if self.on_cpu:
            # numpy look-ups straight into (B, 4, L): small torch indexing ops cost far more
            # on a CPU, and this stays single-threaded beside torch's own threads.
            return torch.from_numpy(codes_to_one_hot(codes, self.n_encoding))
        index = torch.from_numpy(np.ascontiguousarray(codes))
        if self.device.type == "cuda":
            index = index.pin_memory()
        index = index.to(self.device, non_blocking=True).long()
        return self.table[index].transpose(-1, -2).contiguous()


# ------------------------------------------------------------------------------- forward


def activation_floats(network: Any, length: int) -> int | None:
    """The values a network's layers write for one sequence of ``length`` bases.

    The sum of the output sizes of the network's leaf modules in one dry run of a single
    all-zero sequence in eval mode, remembered per network and length: what
    :func:`seqcnn.streams.stream_plan` sizes sub-batches by.  ``None`` when the network is
    not a ``torch.nn.Module`` or the dry run fails (the real input then says why).

    Examples
    --------
    >>> import torch
    >>> activation_floats(torch.nn.Sequential(torch.nn.Conv1d(4, 8, 3), torch.nn.ReLU()), 10)
    128
    """
    import torch

    if not isinstance(network, torch.nn.Module):
        return None
    known = _ACTIVATIONS.setdefault(network, {})
    if length not in known:
        sizes: list[int] = []

        def count(module, inputs, output) -> None:
            outputs = output if isinstance(output, (tuple, list)) else (output,)
            sizes.extend(o.numel() for o in outputs if isinstance(o, torch.Tensor))

        leaves = [m for m in network.modules() if next(m.children(), None) is None]
        hooks = [m.register_forward_hook(count) for m in leaves]
        x = torch.zeros(1, 4, length, device=network_device(network), dtype=network_dtype(network))
        try:
            with evaluating(network), torch.inference_mode():
                network(x)
        except Exception:  # e.g. a length the network cannot take: its real input says so
            sizes = []
        finally:
            for hook in hooks:
                hook.remove()
        known[length] = sum(sizes) or None
    return known[length]


# network -> {input length: activation values per sequence}
_ACTIVATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def network_plan(network: Any, length: int, batch_size: int, device: Any) -> StreamPlan:
    """:func:`seqcnn.streams.stream_plan` for ``network`` over inputs of ``length`` bases,
    its activations counted (:func:`activation_floats`) only where streams could run."""
    return stream_plan(batch_size, device, lambda: activation_floats(network, length))


def sub_batches(batches: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Each batch cut into consecutive pieces of at most ``size`` rows (views, in order).

    Examples
    --------
    >>> [len(b) for b in sub_batches([np.zeros((5, 2)), np.zeros((2, 2))], 2)]
    [2, 2, 1, 2]
    """
    for batch in batches:
        for start in range(0, len(batch), size):
            yield batch[start : start + size]


def run_network(
    network: Any,
    x: np.ndarray | torch.Tensor | Iterable[np.ndarray],
    *,
    batch_size: int = 256,
    transform: str | Callable | None = None,
    rc_average: bool = False,
    n_encoding: str = "zeros",
    device: torch.device | None = None,
    amp_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Run a network over many sequences in batches and return its outputs.

    Parameters
    ----------
    network
        A ``torch.nn.Module`` taking ``(B, 4, L)`` one-hot input.
    x
        ``(N, L)`` uint8 codes, ``(N, 4, L)`` one-hot sequences (numpy or torch), or an
        iterable of such batches.
    batch_size
        Sequences per forward pass when ``x`` is one array.
    transform
        An output transform name (see :data:`TRANSFORMS`), a callable on the raw outputs, or
        ``None`` for raw outputs.
    rc_average
        Also run the reverse complement and average the two after the transform
        (per-position outputs ``(B, T, L_out)``: the reverse strand's flipped along the
        sequence first, so both stand for the same bases).
    n_encoding
        How N and ambiguity codes in ``x`` become channel values.
    device
        Default: the network's device.
    amp_dtype
        Autocast to this dtype (e.g. ``torch.bfloat16``); ``None`` runs in full precision.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(N, *output_shape)``.
    """
    import torch

    as_array = isinstance(x, (np.ndarray, torch.Tensor))
    if as_array:
        array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
        chunks: Iterable = [array] if len(array) else []
    else:
        chunks = x
    outputs = stream_outputs(network, chunks, batch_size=batch_size, transform=transform,
                             rc_average=rc_average, n_encoding=n_encoding, device=device,
                             amp_dtype=amp_dtype, split=as_array)  # fmt: skip
    outputs = [out for out in outputs if len(out)]
    if not outputs:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32, copy=False)


def stream_outputs(
    network: Any,
    chunks: Iterable[np.ndarray],
    *,
    batch_size: int = 256,
    transform: str | Callable | None = None,
    rc_average: bool = False,
    n_encoding: str = "zeros",
    device: torch.device | None = None,
    amp_dtype: torch.dtype | None = None,
    split: bool = True,
) -> Iterator[np.ndarray]:
    """The outputs of :func:`run_network` for each of many chunks of sequences, in order,
    each as soon as its forward passes are done.

    The chunks run in batches of ``batch_size`` through one set of streams
    (:mod:`seqcnn.streams`) for them all, so that while the caller works on one chunk's
    outputs the streams already run the next chunk's batches (up to two per stream):
    calling :func:`run_network` chunk by chunk would leave them idle at every chunk's end.
    ``chunks`` is read lazily, in the calling thread, a chunk or so ahead of the outputs
    yielded.  An empty chunk gives an empty ``(0,)`` array.

    Parameters
    ----------
    network, batch_size, transform, rc_average, n_encoding, device, amp_dtype
        As for :func:`run_network`.
    chunks
        ``(n, L)`` codes or ``(n, 4, L)`` one-hot arrays, every one of the same length.
    split
        Cut each chunk into batches of ``batch_size``; False runs chunks as given where
        they run in one stream (with parallel streams they are always cut).
    """
    import torch

    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    device = network_device(network) if device is None else device
    to_tensor = OneHotBatches(device, n_encoding)
    if callable(transform):
        fn = transform
    else:
        _check_transform(transform)

        def fn(out):
            return apply_transform(out, transform)

    chunks = (np.asarray(chunk) for chunk in chunks)
    first = next(chunks, None)
    if first is None:
        return
    plan = network_plan(network, first.shape[-1], batch_size, device)
    cut = split or plan.streams > 1

    def run(batch: np.ndarray) -> np.ndarray:
        # Thread-local modes: entered in whichever stream runs the batch.
        with torch.inference_mode(), autocast(device, amp_dtype):
            out = fn(network(to_tensor(batch)).float())
            if rc_average:
                flipped = reverse_complement_codes(batch) if batch.dtype == np.uint8 else rc(batch)
                reverse = fn(network(to_tensor(flipped)).float())
                if reverse.ndim == 3:  # per-position outputs: the other strand runs backwards
                    reverse = reverse.flip(-1)
                out = (out + reverse) / 2
            return out.float().cpu().numpy()

    counts: deque[int] = deque()  # batches of each chunk cut, in order

    def batches() -> Iterator[np.ndarray]:
        for chunk in itertools.chain([first], chunks):
            if cut:
                parts = list(sub_batches([chunk], plan.batch_size))
            else:
                parts = [chunk] if len(chunk) else []
            counts.append(len(parts))
            yield from parts

    empty = np.zeros((0,), dtype=np.float32)
    done: list[np.ndarray] = []
    with evaluating(network), Streams(plan) as streams:
        for out in streams.map(run, batches()):
            while counts[0] == 0:  # empty chunks, read before this batch's
                counts.popleft()
                yield empty
            done.append(out)
            if len(done) == counts[0]:
                counts.popleft()
                yield done[0] if len(done) == 1 else np.concatenate(done)
                done = []
    for _ in counts:  # empty chunks at the end
        yield empty
