"""Several observations of one source as one Dataset: bands, days or tracks fitted jointly.

EHT Collaboration 2019 (Papers IV and VI) combine the two 2017 bands and compare the four
days; a joint fit needs every datum once, but closure quantities, scans and station gains
must still be formed *within* each file: the hi and lo bands share timestamps and
baselines, and a triangle with one leg from each band would mix two frequencies. Each row
therefore carries its ``segment`` (the index of the observation it came from), and
:func:`~kerrfield.vlbi.closure_phases`, :func:`~kerrfield.vlbi.log_closure_amplitudes`,
:class:`~kerrfield.vlbi.losses.StationGains` and :func:`~kerrfield.vlbi.observe` group by
(segment, time).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import xarray as xr

from kerrfield.vlbi._uvfits_write import check_obs

__all__ = ["concat_observations", "segment_of", "select_segment"]

#: record counts of :func:`~kerrfield.vlbi.load_uvfits`, summed over the inputs
_COUNTS = ("n_records", "n_flagged", "n_nan", "n_autocorrelations", "n_conjugated")
#: attributes that differ between files: kept per segment as ``segment_<name>`` lists
_PER_SEGMENT = ("frequency", "mjd", *_COUNTS)


def segment_of(obs: xr.Dataset) -> np.ndarray:
    """Segment index of each row of an observation, or of each closure of a closure table
    (zeros for a single observation), shape (row,) or (closure,)."""
    if "segment" in obs:
        return np.asarray(obs["segment"].values, dtype=np.int64)
    return np.zeros(obs.sizes["row" if "row" in obs.dims else "closure"], dtype=np.int64)


def concat_observations(observations: Iterable[xr.Dataset]) -> xr.Dataset:
    """Join observations of one source into one Dataset for a joint fit.

    Parameters
    ----------
    observations : iterable of xarray.Dataset
        From :func:`~kerrfield.vlbi.load_uvfits` / :func:`~kerrfield.vlbi.observe`
        (u, v already in wavelengths of each file's own frequency). An input that is
        itself a concatenation keeps its segments (renumbered).

    Returns
    -------
    xarray.Dataset
        All rows, in input order, with an int ``segment`` variable on ``row``; the station
        table is the union (first occurrence wins). Attributes are the first input's (so
        ``mjd`` is the first file's day: ``time`` stays hours since 0 h of each row's own
        day, the ``mjd`` variable gives every row's full date), with ``n_segments``,
        ``file`` (the ``"; "``-joined file names), the record counts (``n_records``,
        ``n_flagged``, ...) summed and ``frequency`` the mean of the inputs' (Hz); each
        segment's own frequency, MJD and counts are the lists ``segment_frequency``,
        ``segment_mjd``, ``segment_n_records``, ... (:func:`select_segment` restores them).

    Raises
    ------
    ValueError
        No input, an input that is not an observation, inputs of different sources, or the
        same data twice (a file given twice would count twice in every χ²).

    Warns
    -----
    UserWarning
        When the inputs span more than 5 % in frequency or more than one day: a joint fit
        assumes one unchanging image.
    TypeError
        An input that is not an :class:`xarray.Dataset`.

    Notes
    -----
    The result is for fitting and plotting; :func:`~kerrfield.vlbi.save_uvfits` writes one
    segment at a time (:func:`select_segment`).
    """
    parts = list(observations) if not isinstance(observations, xr.Dataset) else [observations]
    if not parts:
        raise ValueError("observations: give at least one observation")
    for k, o in enumerate(parts):
        check_obs(o, name=f"observations[{k}]")
    sources = {str(o.attrs["source"]) for o in parts if o.attrs.get("source")}
    if len(sources) > 1:
        raise ValueError(f"observations: different sources {sorted(sources)}; a joint fit "
                         "needs observations of one source")
    rows, files, offset = [], [], 0
    per = {key: [] for key in _PER_SEGMENT}
    for o in parts:
        seg = segment_of(o)
        n_seg = int(seg.max()) + 1
        for key in _PER_SEGMENT:  # each segment's own value, kept to give it back
            per[key] += (np.atleast_1d(o.attrs[f"segment_{key}"]).tolist()
                         if f"segment_{key}" in o.attrs else [o.attrs.get(key)] * n_seg)
        files += (str(o.attrs.get("file", "")).split("; ") if "n_segments" in o.attrs
                  else [str(o.attrs.get("file", ""))] * n_seg)
        names = [v for v in o.data_vars if o[v].dims == ("row",) and v != "segment"]
        rows.append(o[names].assign(segment=("row", seg + offset)))
        offset += n_seg
    out = xr.concat(rows, dim="row", data_vars="all", coords="minimal", compat="override",
                    combine_attrs="override")
    _refuse_repeats(out, files)
    stations = [o.drop_dims("row") for o in parts if "station" in o.dims]
    if stations:
        table = stations[0]
        for s in stations[1:]:
            table = table.combine_first(s)
        out = xr.merge([out, table], combine_attrs="override")
    out.attrs = dict(parts[0].attrs)
    out.attrs.update(n_segments=offset, file="; ".join(files))
    for key, values in per.items():
        if all(v is not None for v in values):
            out.attrs[f"segment_{key}"] = values
    freqs = np.asarray([np.nan if v is None else v for v in per["frequency"]], float)
    out.attrs["frequency"] = float(np.nanmean(freqs)) if np.isfinite(freqs).any() else np.nan
    _warn_mixed(freqs, per["mjd"])
    for key in _COUNTS:
        if all(key in o.attrs for o in parts):
            out.attrs[key] = int(sum(int(o.attrs[key]) for o in parts))
    out["segment"].attrs["description"] = "index of the observation each row came from"
    return out


def _warn_mixed(freqs: np.ndarray, mjds: list) -> None:
    """A joint fit assumes one image: say so when the inputs span frequencies (more than 5 %
    apart: the EHT's 2017 bands, 227 and 229 GHz, are 1 % apart) or days."""
    f = freqs[np.isfinite(freqs)]
    if f.size and f.max() > 1.05 * f.min():
        warnings.warn(f"observations span {f.min() / 1e9:.4g}-{f.max() / 1e9:.4g} GHz; a joint "
                      "fit assumes one image at all of them (the source's structure changes "
                      "with frequency)", UserWarning, stacklevel=3)  # fmt: skip
    days = sorted({int(m) for m in mjds if m is not None})
    if len(days) > 1:
        warnings.warn(f"observations from {len(days)} days (MJD {', '.join(map(str, days))}); a "
                      "joint fit assumes the source did not change between them",
                      UserWarning, stacklevel=3)  # fmt: skip


def _refuse_repeats(out: xr.Dataset, files: list[str]) -> None:
    """The same data twice would count twice in every χ²: refuse it, naming both."""
    seg = segment_of(out)
    seen: dict[bytes, int] = {}
    for k in range(int(seg.max()) + 1):
        rows = seg == k
        key = (np.asarray(out.vis.values[rows]).tobytes() +
               np.asarray(out.u.values[rows]).tobytes())
        if key in seen:
            j = seen[key]
            raise ValueError(f"observations: segments {j} ({files[j] or 'unnamed'}) and {k} "
                             f"({files[k] or 'unnamed'}) hold the same data; a file given "
                             "twice would count twice in every χ²")  # fmt: skip
        seen[key] = k


def select_segment(obs: xr.Dataset, k: int) -> xr.Dataset:
    """Segment ``k`` of a joint observation as a plain one: its rows, with its own
    frequency, MJD, file name and record counts in the attributes.

    Parameters
    ----------
    obs : xarray.Dataset
        From :func:`concat_observations` (a single observation is segment 0).
    k : int
        Segment index, 0 .. ``obs.attrs["n_segments"] - 1`` (input order of
        :func:`concat_observations`).

    Returns
    -------
    xarray.Dataset
        The segment's rows (u, v in wavelengths, ``vis`` and ``sigma`` in Jy, ``time`` in
        hours) without the ``segment`` variable, the station table unchanged, and the
        attributes of a single observation: ``frequency`` (Hz), ``mjd``, ``file`` and the
        record counts are the segment's own; ``n_segments`` and the ``segment_*`` lists are
        dropped. :func:`~kerrfield.vlbi.save_uvfits` can write it.

    Raises
    ------
    ValueError
        If ``k`` is not an integer index of one of the segments.
    """
    seg = segment_of(obs)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k not in set(seg.tolist()):
        raise ValueError(f"k: segment {k!r} is not in obs (integer segments 0..{int(seg.max())})")
    out = obs.isel(row=np.flatnonzero(seg == int(k))).drop_vars("segment", errors="ignore")
    files = str(obs.attrs.get("file", "")).split("; ")
    out.attrs = {key: v for key, v in obs.attrs.items()
                 if key not in ("n_segments", *_COUNTS) and not key.startswith("segment_")}
    for key in _PER_SEGMENT:
        values = np.atleast_1d(obs.attrs.get(f"segment_{key}", [obs.attrs.get(key)])).tolist()
        if values[min(int(k), len(values) - 1)] is not None:
            out.attrs[key] = values[min(int(k), len(values) - 1)]
    out.attrs["file"] = files[min(int(k), len(files) - 1)]
    return out
