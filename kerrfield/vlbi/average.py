"""Coherent scan averaging of visibilities (ehtim's ``avg_coherent(0, scan_avg=True)``).

The EHT's 10 s records of M87 mostly have a low signal-to-noise ratio on the long
baselines (April 6, hi band: median |V|/σ = 3.3, a quarter below 1.7). Closure quantities
formed from such records are not Gaussian: a log closure amplitude is biased (E ln|V + n|
is not ln|V|) and its first-order σ is wrong, and a closure phase with |V|/σ ≲ 2 is
close to uniform. The EHT's imaging and modelling pipelines therefore average the complex
visibilities coherently over each scan (minutes, over which the source and the (u, v)
point barely move and the atmospheric phase is already calibrated out) before forming
closures (EHT 2019 Paper IV, Sect. 5; Paper VI, Sect. 4).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from kerrfield.vlbi.closures import check_records, scans
from kerrfield.vlbi.combine import segment_of

__all__ = ["average_scans"]


def average_scans(obs: xr.Dataset, scan_gap: float = 60.0) -> xr.Dataset:
    """Coherently average the visibilities of each baseline over each scan.

    Within a scan (records separated by at most ``scan_gap`` seconds; scans of different
    segments of a joint observation are never merged) the rows of one station pair become
    one row: the mean visibility, σ = sqrt(Σ σ²)/n, the mean u, v and time, the summed
    integration time. As ehtim's ``Obsdata.avg_coherent(0, scan_avg=True)`` (unweighted
    mean, "predicted" errors), except that the time is the scan's mean, not its first
    record (the (u, v) are the means too).

    Parameters
    ----------
    obs : xarray.Dataset
        Observation from :func:`~kerrfield.vlbi.load_uvfits`,
        :func:`~kerrfield.vlbi.observe` or :func:`~kerrfield.vlbi.concat_observations`.
    scan_gap : float
        Seconds: a longer gap between records starts a new scan (the EHT 2017 scans are
        3-7 min long with gaps of a minute or more).

    Returns
    -------
    xarray.Dataset
        One row per (segment, scan, t1, t2), ordered by time; other per-row variables
        (``mjd``, ``subarray``, ``segment``) are taken from the scan's first record, the
        station tables and attributes are kept; ``attrs["scan_averaged"] = 1`` and
        ``attrs["n_records_averaged"]`` (rows in). An observation averaged before is
        returned unchanged.

    Raises
    ------
    ValueError
        For a Dataset that is not an observation, non-finite visibilities, or a
        ``scan_gap`` that is not a finite number of seconds > 0.
    """
    check_records(obs, scan_gap)
    if obs.attrs.get("scan_averaged"):
        return obs
    vis = np.asarray(obs["vis"].values)
    seg = segment_of(obs)
    scan = scans(obs.time.values, scan_gap, seg)
    pair = np.unique(np.stack([obs.t1.values.astype(str), obs.t2.values.astype(str)]), axis=1,
                     return_inverse=True)[1].ravel()  # fmt: skip
    _, first, group = np.unique(np.stack([scan, pair]), axis=1, return_index=True,
                                return_inverse=True)  # fmt: skip
    group = group.ravel()
    n = np.bincount(group).astype(float)

    def mean(x: np.ndarray) -> np.ndarray:
        if np.iscomplexobj(x):
            return mean(x.real) + 1j * mean(x.imag)
        return np.bincount(group, weights=x) / n

    out = obs.isel(row=first)
    out["vis"] = ("row", mean(vis), obs["vis"].attrs)
    out["sigma"] = ("row", np.sqrt(np.bincount(group, weights=obs.sigma.values ** 2)) / n,
                    obs["sigma"].attrs)  # fmt: skip
    for name in ("u", "v", "time"):
        out[name] = ("row", mean(obs[name].values), obs[name].attrs)
    if "tint" in obs:
        out["tint"] = ("row", np.bincount(group, weights=obs.tint.values), obs["tint"].attrs)
    out = out.isel(row=np.argsort(out.time.values, kind="stable"))
    out.attrs.update(scan_averaged=1, n_records_averaged=int(obs.sizes["row"]),
                     scan_gap_s=float(scan_gap))  # fmt: skip
    return out
