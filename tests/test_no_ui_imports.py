"""pimlab must import and compute where no UI library is installed."""

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'plotly', 'ipywidgets', 'anywidget', 'IPython', 'pimlab_widgets', 'tqdm', 'dask',
                                  'distributed'}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import pimlab, pimlab.figures
from pimlab.cli import main
assert main(['reproduce']) == 0
import importlib, pkgutil
for info in pkgutil.walk_packages(pimlab.__path__, 'pimlab.'):
    if info.name != 'pimlab.__main__':  # runs the CLI on import
        importlib.import_module(info.name)
from concurrent.futures import ThreadPoolExecutor
from pimlab.gpu import gpu_step
from pimlab.sweep import sweep
table = sweep(gpu_step, {'model': ['Llama2-7B'], 'context_tokens': [4096]}, executor=ThreadPoolExecutor(1))
assert len(table) == 1  # progress=True without tqdm: no bar, no error
print('ok')
"""


def test_pimlab_imports_without_plotly_ipywidgets_tqdm_or_dask():
    result = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_the_blocker_really_blocks():
    result = subprocess.run([sys.executable, "-c", BLOCK.replace("import pimlab, pimlab.figures", "import plotly")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "blocked: plotly" in result.stderr
