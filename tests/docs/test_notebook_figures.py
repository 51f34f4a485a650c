"""Figures render in notebooks, and the docs build fails when one shows as text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from check_notebook_outputs import check_paths, main, text_only_figures  # noqa: E402

TEXT_FIG = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/plain": ["<Figure size 840x720 with 8 Axes>"]}}
IMAGE_FIG = {"output_type": "display_data", "metadata": {},
             "data": {"text/plain": ["<Figure size 840x720 with 8 Axes>"],
                      "image/png": "iVBORw0KGgo="}}


def _nb(*outputs):
    return {"cells": [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": [o]}
                      for o in outputs], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_check_flags_text_only_figures(tmp_path):
    assert text_only_figures(_nb(TEXT_FIG)) == [(0, "<Figure size 840x720 with 8 Axes>")]
    assert text_only_figures(_nb(IMAGE_FIG)) == []
    text = "<Figure size 640x480 with 1 Axes>"
    stream = {"output_type": "stream", "name": "stdout", "text": text + "\n"}
    assert text_only_figures(_nb(IMAGE_FIG, stream)) == [(1, text)]
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    (good / "a.ipynb").write_text(json.dumps(_nb(IMAGE_FIG)))
    (good / "a.html").write_text("<img src='a.png'/>")
    (bad / "b.ipynb").write_text(json.dumps(_nb(IMAGE_FIG, TEXT_FIG)))
    (bad / "c.html").write_text("<pre>&lt;Figure size 840x720 with 8 Axes&gt;</pre>")
    assert check_paths([good]) == [] and main([str(good)]) == 0
    problems = check_paths([bad])
    assert len(problems) == 2 and "cell 1" in problems[0] and "c.html" in problems[1]
    assert main([str(bad)]) == 1


def test_docs_build_runs_the_check():
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert 'app.connect("build-finished", _check_figures)' in conf
    assert "check_notebook_outputs.py" in (ROOT / "Makefile").read_text()


def _image():
    a = np.linspace(-5, 5, 8)
    return xr.DataArray(np.random.default_rng(0).random((8, 8)), dims=("beta", "alpha"),
                        coords={"alpha": a, "beta": a},
                        attrs={"spin": 0.5, "inclination": 30.0, "velocity": "zamo"})


def test_figures_have_a_png_repr_without_pyplot():
    from IPython.core.formatters import DisplayFormatter

    img = _image()
    h = xr.Dataset({"loss": ("step", np.logspace(0, -2, 5)),
                    "relative_residual": ("step", np.logspace(0, -1, 5)),
                    "spin": ("step", np.linspace(0.5, 0.9, 5)),
                    "inclination": ("step", np.linspace(60, 20, 5))})
    figs = [kf.plot_image(img), kf.plot_fit(img, img * 2, img), kf.plot_loss(h),
            kf.plot_parameters(h, truth={"spin": 0.9}), kf.plot_emission_and_image(img, img)]
    for fig in figs:
        data, _ = DisplayFormatter().format(fig)
        assert data["image/png"][:4] == b"\x89PNG"
    assert kf.plot_image(img).axes[0].get_title() == "a = 0.500, θo = 30.0°, zamo velocity"
    assert [ax.get_ylabel() for ax in figs[2].axes] == ["training loss",
                                                        "relative residual |I − T| / |T|"]


@pytest.mark.slow
def test_fresh_kernel_shows_the_figure(tmp_path):
    """Execute a notebook in a fresh kernel (no %matplotlib): the output is a PNG."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import numpy as np, xarray as xr, kerrfield as kf\n"
        "a = np.linspace(-5, 5, 8)\n"
        "img = xr.DataArray(np.ones((8, 8)), dims=('beta', 'alpha'), coords={'alpha': a, "
        "'beta': a}, attrs={'spin': 0.5, 'inclination': 30.0})\n"
        "display(kf.plot_image(img))\nkf.plot_image(img)")]
    import os

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), env_path])
    os.environ.pop("MPLBACKEND", None)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    outs = nb.cells[0].outputs
    assert len(outs) == 2 and all("image/png" in o.get("data", {}) for o in outs)
    assert check_paths([path]) == []


def test_notebooks_are_generated_and_quote_the_code():
    """notebooks/*.ipynb equal scripts/make_notebooks.py's output, and notebook 02 quotes the
    demo's real step count (kerrfield.fitting.workflow.DEMO)."""
    import make_notebooks

    from kerrfield.fitting.workflow import DEMO

    for name, cells in make_notebooks.NOTEBOOKS.items():
        committed = (ROOT / "notebooks" / f"{name}.ipynb").read_text()
        assert committed == make_notebooks.render(cells), f"run scripts/make_notebooks.py ({name})"
    text = (ROOT / "notebooks" / "02_kerrnerf_reference.ipynb").read_text()
    assert f"{DEMO['steps']}\\n" in text or f"{DEMO['steps']}-step" in text
    assert "1500" not in text
