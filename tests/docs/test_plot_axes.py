"""Figures put pixels where their coordinates say: imshow extents at the outer pixel edges
(as xarray's ``.plot()``), rectangular screens keep their aspect, ``fov`` zooms without
relabelling, and plot_geometry copes with every raytrace variable and order."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf


def _screen_image(alpha, beta):
    img = np.outer(np.arange(beta.size), np.ones(alpha.size))
    return xr.DataArray(img, dims=("beta", "alpha"), coords={"beta": beta, "alpha": alpha},
                        attrs={"spin": 0.5, "inclination": 30.0})  # fmt: skip


def test_extents_are_pixel_edges_and_match_xarray():
    ax = np.linspace(-10, 10, 8)
    img = _screen_image(ax, ax)
    ours = kf.plot_image(img).axes[0].images[0].get_extent()
    half = (ax[1] - ax[0]) / 2
    np.testing.assert_allclose(ours, [-10 - half, 10 + half, -10 - half, 10 + half])
    theirs = img.plot.imshow().get_extent()  # xarray's own placement (origin upper: β flips)
    np.testing.assert_allclose(ours, [*theirs[:2], *sorted(theirs[2:])])
    np.testing.assert_allclose(kf.plot_fit(img, img, img).axes[0].images[0].get_extent(), ours)


def test_rectangular_screen_and_fov_zoom():
    alpha, beta = np.linspace(-12, 12, 25), np.linspace(-6, 6, 13)
    fig = kf.plot_image(_screen_image(alpha, beta))
    extent = fig.axes[0].images[0].get_extent()  # not stretched to a square
    np.testing.assert_allclose(extent, [-12.5, 12.5, -6.5, 6.5])
    zoom = kf.plot_image(_screen_image(alpha, beta), fov=5.0).axes[0]
    assert zoom.get_xlim() == (-5.0, 5.0) and zoom.get_ylim() == (-5.0, 5.0)
    assert zoom.images[0].get_extent()[1] == pytest.approx(12.5)  # pixels keep coordinates
    for bad in (0.0, -3.0, float("nan")):
        with pytest.raises(ValueError, match="fov"):
            kf.plot_image(_screen_image(alpha, beta), fov=bad)
    with pytest.raises(TypeError, match="image must be an xarray.DataArray"):
        kf.plot_image(np.ones((4, 4)))


def test_plot_geometry_takes_every_variable_and_a_selected_order():
    ds = kf.raytrace(0.94, 17.0, npix=12, orders=(0, 1, 6), surface="cone:60")
    assert ds.attrs["surface"] == "cone" and ds.attrs["surface_theta_deg"] == 60.0
    fig = kf.plot_geometry(ds, variables=("r_s", "status", "lam"))
    assert "cone θs = 60.0°" in fig.get_suptitle()
    titles = [a.get_title() for a in fig.axes if a.get_visible() and a.images]
    assert titles.count("n = 6") == 2 and titles.count("") == 1  # lam: one panel, no order
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert "no crossings" in texts  # n = 6 reaches no cone point on this small screen
    bars = [a for a in fig.axes if [t.get_text() for t in a.get_yticklabels()][:1] == ["crosses"]]
    assert len(bars) == 3  # status: one categorical colour bar per order
    one = kf.plot_geometry(ds.sel(n=0))
    assert [a.get_title() for a in one.axes if a.images] == ["n = 0", "n = 0"]
    with pytest.raises(ValueError, match="variables must name"):
        kf.plot_geometry(ds, variables=())
    with pytest.raises(ValueError, match="variables must name"):
        kf.plot_geometry(ds, variables=("nope",))


def test_sky_images_put_pixel_edges_at_the_extent():
    ax = np.linspace(-40.0, 40.0, 9)  # µas, 10 µas pixels
    sky = xr.DataArray(np.ones((9, 9)), dims=("dec", "ra"), coords={"dec": ax, "ra": -ax})
    extent = kf.plot_image(sky).axes[0].images[0].get_extent()
    np.testing.assert_allclose(extent, [45.0, -45.0, -45.0, 45.0])  # east to the left


def test_parameter_history_without_truth_draws_no_empty_legend():
    import warnings

    h = xr.Dataset({"spin": ("step", np.linspace(0.5, 0.9, 5))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "No artists with labels"
        fig = kf.plot_parameters(h)
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
