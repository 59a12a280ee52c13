"""pimlab.export: `reproduce --out DIR` writes the records and every figure, offline, and says what is missing."""

import json
import re
import subprocess
import sys

from pimlab import figures
from pimlab.cli import main
from pimlab.export import records_markdown, write_reproduction
from pimlab.reproduce import to_json


def test_out_writes_records_and_offline_html(tmp_path):
    records = figures.scorecard(["2", "7"])
    summary = write_reproduction(tmp_path, records, ["2", "7"], images=False)  # PNG / SVG: tests_browser
    assert summary.startswith(f"wrote {len(records)} records and 2 figures (HTML) to {tmp_path}")
    assert json.loads((tmp_path / "reproduction.json").read_text()) == json.loads(to_json(records))
    markdown = (tmp_path / "reproduction.md").read_text()
    assert all(f"| {r.quantity} |" in markdown for r in records)
    pages = sorted(p.name for p in (tmp_path / "figures").glob("*.html"))
    assert pages == ["fig02.html", "fig07.html"]
    for page in pages:
        html = (tmp_path / "figures" / page).read_text()
        sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
        assert sources == ["plotly.min.js"], sources  # written once beside the pages, no CDN
        assert "Plotly.newPlot" in html
    assert (tmp_path / "figures" / "plotly.min.js").stat().st_size > 1_000_000


def test_markdown_has_one_row_per_record_and_every_field():
    records = figures.scorecard(["8"])
    lines = records_markdown(records).splitlines()
    fields = list(json.loads(to_json(records))[0])
    assert lines[0] == "| " + " | ".join(fields) + " |"
    assert len([line for line in lines if line.startswith("| ")]) == 1 + len(records)


def test_without_the_widget_package_records_are_written_and_the_fix_is_named(tmp_path):
    code = f"""
import sys
sys.modules['pimlab_widgets'] = None
from pimlab import figures
from pimlab.export import write_reproduction
print(write_reproduction({str(tmp_path)!r}, figures.scorecard(['2']), ['2']))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'pimlab[widgets]'" in result.stderr
    assert "0 figures" in result.stdout and (tmp_path / "reproduction.json").exists()


def test_cli_out_must_be_a_directory(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("")
    assert main(["reproduce", "--figures", "2", "--out", str(target)]) == 2
    assert "--out must be a directory" in capsys.readouterr().err
