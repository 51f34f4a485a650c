"""The pooch download path against a local HTTP server serving ../shared/data."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from kerrfield.vlbi.dataset import (
    EHT_M87_2017_REGISTRY,
    _sha256,
    eht_m87_2017_filename,
    fetch_eht_m87_2017,
)

NAME = "SR1_M87_2017_096_hi_hops_netcal_StokesI.uvfits"


def _serve(folder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, url


@pytest.fixture(scope="module")
def server(shared_data_dir):
    proc, url = _serve(shared_data_dir)
    yield url + "eht-m87-2017/uvfits/"
    proc.terminate()
    proc.wait(timeout=10)


def test_registry_matches_sha256sums(shared_data_dir):
    sums = (shared_data_dir / "eht-m87-2017" / "SHA256SUMS").read_text().split()
    assert dict(zip(sums[1::2], sums[0::2], strict=True)) == EHT_M87_2017_REGISTRY


def test_download_hash_and_cache(server, tmp_path, monkeypatch):
    monkeypatch.delenv("KERRFIELD_DATA_DIR", raising=False)
    path = fetch_eht_m87_2017(6, "hi", cache=tmp_path, base_url=server)
    assert path.parent == tmp_path and _sha256(path) == EHT_M87_2017_REGISTRY[NAME]
    mtime = path.stat().st_mtime_ns
    # second call: cache hit even with the server unreachable
    again = fetch_eht_m87_2017(96, "hi", cache=tmp_path, base_url="http://127.0.0.1:9/")
    assert again == path and path.stat().st_mtime_ns == mtime
    # a corrupted cached file is detected and downloaded again
    path.write_bytes(b"corrupt")
    fixed = fetch_eht_m87_2017(6, "hi", cache=tmp_path, base_url=server)
    assert _sha256(fixed) == EHT_M87_2017_REGISTRY[NAME]


def test_corrupted_download_is_a_clear_error(shared_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("KERRFIELD_DATA_DIR", raising=False)
    bad = tmp_path / "srv"
    bad.mkdir()
    data = (shared_data_dir / "eht-m87-2017" / "uvfits" / NAME).read_bytes()
    (bad / NAME).write_bytes(data[:-100] + b"x" * 100)
    proc, url = _serve(bad)
    try:
        with pytest.raises(ValueError, match="sha256"):
            fetch_eht_m87_2017(6, "hi", cache=tmp_path / "cache", base_url=url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not (tmp_path / "cache" / NAME).exists()


def test_air_gapped_data_dir(shared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(shared_data_dir))
    p = fetch_eht_m87_2017(6, "hi", cache=tmp_path, base_url="http://127.0.0.1:9/")
    assert p == shared_data_dir / "eht-m87-2017" / "uvfits" / NAME
    # a copy with the wrong hash is not used
    wrong = tmp_path / "dd"
    (wrong / "uvfits").mkdir(parents=True)
    shutil.copy(p, wrong / "uvfits" / NAME)
    with open(wrong / "uvfits" / NAME, "r+b") as f:
        f.seek(5000)
        f.write(b"\0\1\2")
    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(wrong))
    with pytest.raises(Exception):  # noqa: B017 - falls through to the (unreachable) download
        fetch_eht_m87_2017(6, "hi", cache=tmp_path / "c", base_url="http://127.0.0.1:9/")


@pytest.mark.parametrize("day, band, match", [(7, "hi", "day"), (6, "mid", "band"),
                                               ("x", "hi", "day")])
def test_bad_day_band(day, band, match):
    with pytest.raises(ValueError, match=match):
        eht_m87_2017_filename(day, band)


def test_no_network_is_one_clear_error(tmp_path, monkeypatch):
    """Neither local nor downloadable (a closed port stands for no network): one
    ConnectionError naming the file and KERRFIELD_DATA_DIR, not a requests traceback."""
    monkeypatch.delenv("KERRFIELD_DATA_DIR", raising=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match="KERRFIELD_DATA_DIR") as info:
        fetch_eht_m87_2017(6, "hi", cache=tmp_path, base_url=f"http://127.0.0.1:{port}/")
    assert "SR1_M87_2017_096_hi" in str(info.value) and info.value.__cause__ is None


def test_locate_finds_local_copies_only(shared_data_dir, tmp_path, monkeypatch):
    """``locate_eht_m87_2017`` (used by ``infer --check``) never downloads: the data-dir
    copy when there is one, else a hash-checked cached copy, else None."""
    from kerrfield.vlbi.dataset import locate_eht_m87_2017

    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(shared_data_dir))
    assert locate_eht_m87_2017(6, "hi").name.startswith("SR1_M87_2017_096_hi")
    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(tmp_path / "empty"))
    assert locate_eht_m87_2017(6, "hi", cache=tmp_path) is None
    src = next((shared_data_dir / "eht-m87-2017" / "uvfits").glob("SR1_M87_2017_096_hi_*"))
    shutil.copy(src, tmp_path / src.name)
    assert locate_eht_m87_2017(6, "hi", cache=tmp_path) == tmp_path / src.name
    (tmp_path / src.name).write_bytes(b"corrupt")
    assert locate_eht_m87_2017(6, "hi", cache=tmp_path) is None


def test_infer_check_says_where_the_data_come_from(shared_data_dir, tmp_path, monkeypatch,
                                                   capsys):  # fmt: skip
    from kerrfield.cli import main

    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(shared_data_dir))
    cfg = tmp_path / "m87.toml"
    cfg.write_text('[target.observation]\nday = 6\nband = "hi"\n[mode]\nspin = 0.94\n'
                   'inclination = [158.0, 163.0]\n')
    assert main(["infer", str(cfg), "--check"]) == 0
    assert "(found: " in capsys.readouterr().out
