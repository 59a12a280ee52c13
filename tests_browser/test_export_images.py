"""`reproduce --out` writes PNG and SVG through kaleido and Debian's chromium."""

import shutil

import pytest

from pimlab.cli import main


def test_out_writes_png_and_svg(tmp_path, capsys):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("kaleido")
    assert main(["reproduce", "--figures", "2", "--out", str(tmp_path)]) == 0
    assert "(HTML, PNG and SVG)" in capsys.readouterr().out.splitlines()[-1]
    png, svg = tmp_path / "figures" / "fig02.png", tmp_path / "figures" / "fig02.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "<svg" in svg.read_text()[:500] and "fig02.png" in (tmp_path / "reproduction.md").read_text()
