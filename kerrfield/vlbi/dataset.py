"""Fetch the EHT 2017 M87 public data release (data product 2019-D01-01) with pooch.

The files are the EHT-HOPS network-calibrated Stokes I visibilities of EHT Collaboration
2019, ApJL 875, L3 (M87 Paper III), public domain (ODC-PDDL). They are downloaded from the
EHT's GitHub release at a pinned commit and checked against the sha256 registry below.

Set ``KERRFIELD_DATA_DIR`` to a folder holding the files (either directly, under
``uvfits/`` or under ``eht-m87-2017/uvfits/``) for air-gapped machines: a file there with
the right hash is used without any download.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["EHT_M87_2017_REGISTRY", "EHT_M87_2017_URL", "data_dir", "fetch_eht_m87_2017"]

#: Base URL of the release's uvfits folder, pinned to the commit the hashes were taken from
EHT_M87_2017_URL = ("https://raw.githubusercontent.com/eventhorizontelescope/2019-D01-01/"
                    "27ae76aacb9067a83388395c3826012b97aac371/uvfits/")

#: sha256 of every uvfits file of the release (from its SHA256SUMS)
EHT_M87_2017_REGISTRY = {
    "SR1_M87_2017_095_hi_hops_netcal_StokesI.uvfits":
        "a11a874bdbf205089192b5270abc5894ad85e4ab54f0f677e3280c5639ea3e0d",
    "SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits":
        "97492ee1146b05e12b1783e6c9a8253a0f50d789835286ffcc3ed5d248d51a8e",
    "SR1_M87_2017_096_hi_hops_netcal_StokesI.uvfits":
        "5bc42247ccd01b58460d95e8c17f91e337c79ffe99a0718aacf0a91c77ad24ec",
    "SR1_M87_2017_096_lo_hops_netcal_StokesI.uvfits":
        "f3394b2c272ba92980c21e3522987344f9175a78c333648a36458c917216c365",
    "SR1_M87_2017_100_hi_hops_netcal_StokesI.uvfits":
        "76104537313cd6879c497901f313bad667f4608c48df961e67ac5615d84b2c00",
    "SR1_M87_2017_100_lo_hops_netcal_StokesI.uvfits":
        "ee90ca5aec0bd8ed27f5ea13c941ae3f24c188d5c8a9aa87ab4b5606f57334be",
    "SR1_M87_2017_101_hi_hops_netcal_StokesI.uvfits":
        "618c3019f60e88268980267a9db68f638b379a85842d83c06003d28550d191f5",
    "SR1_M87_2017_101_lo_hops_netcal_StokesI.uvfits":
        "697af2bb3bbf732115108ffefacd3e59e307f38fe685c3c4579146b0bd661298",
}

_DAYS = {5: "095", 6: "096", 10: "100", 11: "101", 95: "095", 96: "096", 100: "100",
         101: "101"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_dir() -> Path | None:
    """The air-gapped data folder from ``KERRFIELD_DATA_DIR``, or None when unset."""
    value = os.environ.get("KERRFIELD_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def eht_m87_2017_filename(day: int | str, band: str) -> str:
    """File name of one day (April 5, 6, 10, 11 or day of year 95, 96, 100, 101) and band.

    Raises
    ------
    ValueError
        If ``day`` or ``band`` is not part of the release.
    """
    try:
        doy = _DAYS[int(day)]
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"day must be an April 2017 observing day (5, 6, 10, 11) or its day of "
                         f"year (95, 96, 100, 101), got {day!r}") from None
    if band not in ("hi", "lo"):
        raise ValueError(f"band must be 'hi' (229.1 GHz) or 'lo' (227.1 GHz), got {band!r}")
    return f"SR1_M87_2017_{doy}_{band}_hops_netcal_StokesI.uvfits"


def _local_copy(name: str) -> Path | None:
    folder = data_dir()
    if folder is None:
        return None
    for sub in ("", "uvfits", "eht-m87-2017/uvfits"):
        p = folder / sub / name
        if p.is_file() and _sha256(p) == EHT_M87_2017_REGISTRY[name]:
            return p
    return None


def eht_m87_2017_pairs(day: Any, band: Any) -> list[tuple[int | str, str]]:
    """Every (day, band) of ``day`` × ``band``, each a value or a list (a joint fit's files).

    >>> eht_m87_2017_pairs(6, ["hi", "lo"])
    [(6, 'hi'), (6, 'lo')]
    """
    days, bands = ([x] if not isinstance(x, (list, tuple)) else list(x) for x in (day, band))
    return [(d, b) for d in days for b in bands]


def locate_eht_m87_2017(day: int | str = 6, band: str = "hi", *,
                        cache: str | os.PathLike | None = None) -> Path | None:
    """The local, hash-checked copy of one EHT 2017 M87 file, or None (nothing downloaded).

    Looks where :func:`fetch_eht_m87_2017` looks first: ``KERRFIELD_DATA_DIR``, then the
    download cache. For checks before a run (``kerrfield infer --check``).
    """
    name = eht_m87_2017_filename(day, band)
    local = _local_copy(name)
    if local is not None:
        return local
    p = _cache_dir(cache) / name
    return p if p.is_file() and _sha256(p) == EHT_M87_2017_REGISTRY[name] else None


def _cache_dir(cache: str | os.PathLike | None) -> Path:
    """Where downloads go: ``cache``, else pooch's OS cache folder for kerrfield."""
    if cache is not None:
        return Path(cache)
    import pooch

    return Path(pooch.os_cache("kerrfield")) / "eht-m87-2017"


def fetch_eht_m87_2017(day: int | str = 6, band: str = "hi", *, cache: str | os.PathLike |
                       None = None, base_url: str = EHT_M87_2017_URL) -> Path:
    """Path of one uvfits file of the EHT 2017 M87 release, downloading it if needed.

    Order: a file with the right sha256 in ``KERRFIELD_DATA_DIR``; else pooch's cache
    (``cache`` or pooch's OS cache folder ``kerrfield``), downloading from ``base_url`` and
    checking the sha256 on arrival.

    Parameters
    ----------
    day : int or str
        April 2017 day (5, 6, 10, 11) or day of year (95, 96, 100, 101).
    band : {'hi', 'lo'}
        229.1 GHz ('hi') or 227.1 GHz ('lo') band.
    cache : str or os.PathLike, optional
        Download folder (default: ``pooch.os_cache('kerrfield')/eht-m87-2017``).
    base_url : str
        Where the files live (default: the EHT release on GitHub at a pinned commit).

    Returns
    -------
    pathlib.Path
        The local file, hash-checked.

    Raises
    ------
    ValueError
        Bad ``day``/``band``, or a downloaded file whose sha256 differs from the registry
        (the corrupt file is removed; rerun to download again).
    ImportError
        If pooch is not installed and the file is not in ``KERRFIELD_DATA_DIR``.
    ConnectionError
        The file is neither local nor downloadable (no network, server down): the message
        names the file, the URL and ``KERRFIELD_DATA_DIR``.
    """
    name = eht_m87_2017_filename(day, band)
    local = _local_copy(name)
    if local is not None:
        return local
    try:
        import pooch
    except ImportError as err:  # pragma: no cover - pooch is a core dependency
        raise ImportError("fetching the EHT data needs pooch (pip install pooch), or set "
                          "KERRFIELD_DATA_DIR to a folder that holds the files") from err
    fetcher = pooch.create(path=_cache_dir(cache), base_url=base_url,
                           registry=EHT_M87_2017_REGISTRY, retry_if_failed=1)
    try:
        return Path(fetcher.fetch(name, progressbar=False))
    except (ConnectionError, TimeoutError, _request_errors()) as err:  # no network
        raise ConnectionError(
            f"could not download {name} from {base_url} ({type(err).__name__}); on a machine "
            f"without network, put the release's uvfits files in a folder and set "
            f"KERRFIELD_DATA_DIR to it (looked in: {_data_dir_text()})") from None
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise ValueError(f"the download of {name} from {base_url} does not match its sha256 "
                         f"{EHT_M87_2017_REGISTRY[name]} (corrupted or changed upstream); it was "
                         "not kept. Rerun to retry, or put a verified copy in "
                         "KERRFIELD_DATA_DIR") from err


def _request_errors() -> type[Exception]:
    """The exception base of the HTTP client pooch uses (requests)."""
    try:
        from requests.exceptions import RequestException
    except ImportError:  # pragma: no cover - requests comes with pooch
        return ConnectionError
    return RequestException


def _data_dir_text() -> str:
    env = os.environ.get("KERRFIELD_DATA_DIR")
    return f"KERRFIELD_DATA_DIR={env}" if env else "KERRFIELD_DATA_DIR is not set"
