"""Sphinx configuration for the kerrfield documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going``): every warning is an error and
every tutorial notebook is executed at build time (a failing cell fails the build).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import kerrfield  # noqa: E402

project = "kerrfield"
author = "kerrfield developers"
copyright = "2025, kerrfield developers"
release = version = kerrfield.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute", "api/generated/_*.md"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# --- theme -----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"kerrfield {release}"
html_logo = "_build/figures/logo.png"
html_favicon = "_build/figures/logo.png"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"changelog": [], "performance": []}

# --- API docs: numpydoc + autosummary over the flat namespace ------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- MyST / notebooks ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
# "force": re-run every notebook on each build (CI); KERRFIELD_NB_EXECUTION=cache for local
# iteration (jupyter-cache keyed on the notebook's code cells only).
nb_execution_mode = os.environ.get("KERRFIELD_NB_EXECUTION", "force")
nb_execution_timeout = int(os.environ.get("KERRFIELD_NB_TIMEOUT", "900"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_excludepatterns: list[str] = []
nb_kernel_rgx_aliases = {".*": "python3"}
# notebook kernels inherit this environment: make sure figures are captured inline even if
# the caller exported MPLBACKEND=Agg
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
os.environ.setdefault("KERRFIELD_DOCS_BUILD", "1")
# The notebooks run on the repository's own package, not an older installed copy.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

suppress_warnings = ["mystnb.unknown_mime_type"]

# Docstrings write the spin's magnitude as |a| (and similar); in reST that is substitution
# syntax, so define those substitutions as themselves.
rst_prolog = "\n".join(
    f".. |{v}| replace:: \\|{v}\\|" for v in ("a", "V")
) + "\n"


# --- generated content ---------------------------------------------------------------------
# Section titles for the API page, keyed by the defining submodule in kerrfield._LAZY.
API_SECTIONS: dict[str, str] = {
    "physics.raytrace": "Ray tracing",
    "physics._stream": "Ray tracing to disk (large screens)",
    "physics.kerr": "Kerr geometry",
    "physics.redshift": "Velocity models and redshift",
    "bridge.api": "Julia backend",
    "fields.emission": "Neural emission fields",
    "fields.encodings": "Input encodings",
    "models.lensed": "Lensed image models",
    "models.builders": "Building and rendering models",
    "models.persistence": "Saving and loading models",
    "models.synthetic": "Synthetic targets",
    "fitting.losses": "Losses",
    "fitting.loop": "Fitting",
    "fitting.multiscale": "Coarse-to-fine fitting",
    "fitting.result": "Fit results",
    "fitting.config": "Scripted inference: configuration",
    "fitting.runner": "Scripted inference: running",
    "plotting": "Plotting",
    "io.units": "Physical units",
    "io.fits": "FITS images",
    "io.sky": "Screens on the sky",
    "io.skyfits": "FITS sky images (AIPS/ehtim layout)",
    "vlbi.uvfits": "Interferometric data: uvfits",
    "vlbi.dataset": "Interferometric data: the EHT 2017 M87 release",
    "vlbi.visibilities": "Visibilities",
    "vlbi.closures": "Closure quantities",
    "vlbi.observe": "Synthetic observations",
    "vlbi.ring": "Ring features",
    "vlbi.ehtim_io": "ehtim interoperability",
    "fitting.observation": "Fitting interferometric data",
    "fitting.observation_target": "Observations as targets (fit, infer)",
    "models.forward": "The forward model: beam and recorded physics",
    "fitting.convergence": "Fitting to convergence",
    "fitting.profile": "Profile likelihoods and intervals",
}


API_INTRO = """\
API reference
=============

Everything public is available from the flat ``kerrfield`` namespace
(``import kerrfield as kf; kf.raytrace(...)``); submodules are imported lazily on first
use, so ``import kerrfield`` is cheap and never starts Julia. This page is generated from
that namespace (``kerrfield._LAZY``) when the documentation is built.

``kerrfield --help`` lists the command-line subcommands, each with its own ``--help``
(all of them on :doc:`cli`); the scripted inference command is described in
:doc:`../../inference`.

.. currentmodule:: kerrfield
"""


def _write_api_page() -> None:
    """Write ``api/generated/index.rst``: one autosummary table per submodule.

    The names come from ``kerrfield._LAZY``, so a new public name shows up without editing
    the docs. A module that cannot be imported fails the build (set
    ``KERRFIELD_DOCS_ALLOW_MISSING=1`` to leave it out while it is being written).
    """
    groups: dict[str, list[str]] = {}
    for name, module in kerrfield._LAZY.items():
        groups.setdefault(module, []).append(name)
    order = [m for m in API_SECTIONS if m in groups] + sorted(set(groups) - set(API_SECTIONS))
    lines = [API_INTRO]
    allow_missing = bool(os.environ.get("KERRFIELD_DOCS_ALLOW_MISSING"))
    for module in order:
        try:
            mod = importlib.import_module(f"kerrfield.{module}")
        except ImportError:
            if not allow_missing:
                raise
            print(f"docs: kerrfield.{module} not importable; left out of the API page")
            continue
        title = API_SECTIONS.get(module, module)
        lines += [title, "-" * len(title), ""]
        first = (mod.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        if first:
            lines += [first, ""]
        lines += [".. autosummary::", "   :toctree: .", "   :nosignatures:", ""]
        lines += [f"   {n}" for n in sorted(groups[module], key=str.lower)]
        lines.append("")
        # the flat name must resolve to the object, even if the submodule of the same
        # name was imported first and shadowed it
        for n in groups[module]:
            setattr(kerrfield, n, getattr(mod, n))
    out = DOCS / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    target = out / "index.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def _write_benchmark_tables() -> None:
    """Render every ``benchmarks/results/*.json`` as a table (``api/generated/_benchmarks.md``).

    A result file holds one JSON object or a list of them (rows); the columns are the union
    of their keys. Keeping the page generated means it always shows the committed results.
    """
    results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    lines: list[str] = []
    for path in results:
        data = json.loads(path.read_text())
        rows = data if isinstance(data, list) else data.get("rows", [data])
        if not rows:
            continue
        cols: list[str] = []
        for row in rows:
            cols += [k for k in row if k not in cols]
        lines += [f"### `{path.relative_to(ROOT)}`", ""]
        if isinstance(data, dict) and "rows" in data:
            meta = {k: v for k, v in data.items() if k != "rows"}
            lines += [f"{k}: {_cell(v)}  " for k, v in meta.items()] + [""]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
        lines.append("")
    if not lines:
        lines = ["No benchmark results are committed yet (`benchmarks/results/*.json`).", ""]
    out = DOCS / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    (out / "_benchmarks.md").write_text("\n".join(lines))


def _make_figures() -> None:
    """Render the landing-page and conventions figures (scripts/make_docs_figures.py)."""
    if os.environ.get("KERRFIELD_DOCS_SKIP_FIGURES"):
        return
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_docs_figures.py"),
         str(DOCS / "_build" / "figures")],
        check=True,
        cwd=ROOT,
    )


def _write_cli_page() -> None:
    """Write ``api/generated/cli.md``: every subcommand's ``--help``, from the parser itself
    (so the page cannot drift from the options)."""
    import argparse

    from kerrfield.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = ["# Command line", "",
             "`kerrfield COMMAND --help` prints these pages; the scripted inference "
             "(`kerrfield infer`) and its TOML configuration are described in "
             "{doc}`../../inference`. Units: G = c = M = 1 (lengths and screen coordinates "
             "in M), angles in degrees.", ""]
    os.environ["COLUMNS"] = "92"  # argparse wraps to the terminal: fix the width
    for name, sub in subs.choices.items():
        lines += [f"## `kerrfield {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    out = DOCS / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    target = out / "cli.md"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_api_page()
_write_cli_page()
_write_benchmark_tables()
_make_figures()


def _check_figures(app, exception) -> None:
    """Fail the build when an executed cell shows ``<Figure size ...>`` instead of a plot."""
    if exception is not None:
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    from check_notebook_outputs import check_paths

    out = Path(app.outdir)
    problems = check_paths([out.parent / "jupyter_execute", out / "tutorials"])
    if problems:
        raise RuntimeError("figures rendered as text in the docs:\n  " + "\n  ".join(problems))


def setup(app) -> None:
    app.connect("build-finished", _check_figures)
