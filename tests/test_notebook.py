"""notebooks/quickstart.ipynb runs from start to end, on tiny settings, in a fresh folder.

The notebook reads its sizes from ``SEQCNN_NB_*`` environment variables; the kernel
inherits them.  The kernel is this interpreter, through a kernelspec written to a temporary
folder: a ``python3`` kernelspec of the user's or of another environment is never picked
up, and the virtual environment is not modified.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
TINY = {"SEQCNN_NB_SEQUENCES": "300", "SEQCNN_NB_HELD_OUT": "40", "SEQCNN_NB_EPOCHS": "1"}
KERNEL = "seqcnn-test-python"


def _kernel_manager(folder: Path):
    """A kernel manager that starts ``sys.executable -m ipykernel_launcher``."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    write_kernel_spec(folder / KERNEL)  # argv: [sys.executable, "-m", "ipykernel_launcher", ...]
    specs = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def _assert_real_png(path: Path) -> None:
    from matplotlib.image import imread

    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
    assert pixels[..., :3].var() > 1e-3  # not a blank canvas


def test_the_stored_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "SEQCNN_NB_EPOCHS" in code[0].source  # the settings cell comes first


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """(executed notebook, working folder) after one run on tiny settings."""
    work = tmp_path_factory.mktemp("notebook")
    kernels = tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TINY.items():
            patch.setenv(name, value)
        # The inline backend, as in Jupyter, whatever a CI sets for the test process.
        patch.delenv("MPLBACKEND", raising=False)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            km=_kernel_manager(kernels),
            timeout=300,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute()  # raises CellExecutionError on the first failing cell
    return nb, work


def test_the_kernel_is_this_interpreter(tmp_path):
    km = _kernel_manager(tmp_path)
    assert km.kernel_spec.argv[0] == sys.executable


def test_notebook_writes_predictions_for_every_held_out_sequence(executed):
    _, work = executed
    out = work / "quickstart"
    labels = pd.read_csv(out / "data" / "planted_labels.tsv", sep="\t")
    assert len(labels) == int(TINY["SEQCNN_NB_SEQUENCES"])
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t", index_col="id")
    assert len(predictions) == int(TINY["SEQCNN_NB_HELD_OUT"])
    assert list(predictions.columns) == list(labels.columns[1:])  # one column per motif
    assert predictions.index.is_unique
    values = predictions.to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()


def test_notebook_matches_filters_and_draws_logos_and_attribution(executed):
    nb, work = executed
    out = work / "quickstart"
    assert (out / "model" / "config.json").is_file()
    meme = (out / "filters.meme").read_text().splitlines()
    exported = {line.split()[1] for line in meme if line.startswith("MOTIF ")}
    assert exported and all(name.startswith("filter_") for name in exported)
    matches = pd.read_csv(out / "matches.tsv", sep="\t")
    assert {"filter", "rank", "match_id", "match_name", "q_value"} <= set(matches.columns)
    assert set(matches["filter"]) <= exported  # rows may be few after one tiny epoch
    assert (matches["q_value"] <= 0.05).all()
    _assert_real_png(out / "filter_logos.png")
    _assert_real_png(out / "attribution.png")
    shown = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in shown if o.output_type == "error"]
    images = [o for o in shown if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # learning curve, filter logos, attribution map
    assert any("AUROC" in o.get("data", {}).get("text/html", "") for o in shown)
