"""pimlab must import and compute where no UI library is installed."""

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'plotly', 'ipywidgets', 'anywidget', 'IPython', 'pimlab_widgets'}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import pimlab, pimlab.figures
from pimlab.cli import main
assert main(['reproduce']) == 0
import importlib, pkgutil
for info in pkgutil.walk_packages(pimlab.__path__, 'pimlab.'):
    if info.name != 'pimlab.__main__':  # runs the CLI on import
        importlib.import_module(info.name)
print('ok')
"""


def test_pimlab_imports_without_plotly_or_ipywidgets():
    result = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_the_blocker_really_blocks():
    result = subprocess.run([sys.executable, "-c", BLOCK.replace("import pimlab, pimlab.figures", "import plotly")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "blocked: plotly" in result.stderr
