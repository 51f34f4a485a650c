"""What ``kerrfield infer`` says: offline errors, refused folders, ``--check`` on a folder
with results, progress bars in piped logs."""

from __future__ import annotations

import pytest

from kerrfield.cli import main

_DAY_TOML = """[target.observation]
day = 6
band = "hi"
[model]
npix = 8
orders = [0]
[mode]
kind = "scan"
spin = [0.5, 0.9]
inclination = 163.0
[output]
directory = "out"
"""


def test_no_network_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    """Neither a local copy nor network: the data module's ConnectionError, through the
    real fetch, becomes one ``error:`` line (exit 2) and nothing is written."""
    import pooch
    import requests

    from kerrfield.vlbi import dataset

    class Offline:
        def fetch(self, name, **kw):
            raise requests.exceptions.ConnectionError("Name or service not known")

    monkeypatch.delenv("KERRFIELD_DATA_DIR", raising=False)
    monkeypatch.setattr(dataset, "_cache_dir", lambda cache: tmp_path / "cache")
    monkeypatch.setattr(pooch, "create", lambda **kw: Offline())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scan.toml").write_text(_DAY_TOML)
    assert main(["infer", "scan.toml", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kerrfield infer: error: could not download "
                                               "SR1_M87_2017_096_hi")  # fmt: skip
    assert "set KERRFIELD_DATA_DIR" in err[0] and "KERRFIELD_DATA_DIR is not set" in err[0]
    assert not (tmp_path / "out").exists()


def test_other_os_errors_keep_their_traceback(tmp_path, monkeypatch):
    """Only a missing file or network is a one-line error; a failing disk is not hidden."""
    from kerrfield.cli import infer

    def disk_error(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(infer, "run_inference", disk_error)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(_DAY_TOML)
    with pytest.raises(OSError, match="Input/output"):
        main(["infer", "c.toml", "-q"])
