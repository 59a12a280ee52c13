"""`reproduce --out` writes PNG and SVG through kaleido and Debian's chromium, each at its figure's size."""

import shutil
import struct

import pytest

from pimlab.cli import main


def test_out_writes_png_and_svg(tmp_path, capsys):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("kaleido")
    assert main(["reproduce", "--figures", "2,16", "--out", str(tmp_path)]) == 0
    assert "(HTML, PNG and SVG)" in capsys.readouterr().out.splitlines()[-1]
    png, svg = tmp_path / "figures" / "fig02.png", tmp_path / "figures" / "fig02.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "<svg" in svg.read_text()[:500] and "fig02.png" in (tmp_path / "reproduction.md").read_text()
    from pimlab_widgets.gallery import builders

    for build in builders(["2", "16"]):
        for stem, figure in build():
            width, height = struct.unpack(">II", (tmp_path / "figures" / f"{stem}.png").read_bytes()[16:24])
            assert (width, height) == (figure.layout.width or 700, figure.layout.height or 500), stem  # 700 x 500:
            # plotly's default where a layout sets no size
