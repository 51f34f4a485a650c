"""Matplotlib figures for emission fields, lensed images and fits ('afmhot', Agg-safe).

Every function builds its own figure without pyplot state (so it works headless and in
threads) and returns it; save it with ``fig.savefig(path)``. The figures render themselves
in Jupyter (``_repr_png_``), so ``kf.plot_fit(...)`` as the last line of a cell, or
``display(...)``, shows the plot in a fresh kernel without ``%matplotlib inline``.
"""

from .figures import (
    CMAP,
    INTENSITY,
    NotebookFigure,
    geometry_title,
    pixel_extent,
    plot_emission_and_image,
    plot_fit,
    plot_image,
    plot_loss,
    plot_parameters,
)
from .geometry import plot_geometry

__all__ = [
    "CMAP", "INTENSITY", "NotebookFigure", "geometry_title", "pixel_extent",
    "plot_emission_and_image", "plot_fit", "plot_geometry", "plot_image", "plot_loss",
    "plot_parameters",
]  # fmt: skip
