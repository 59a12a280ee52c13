"""pyproject.toml lists every package: a non-editable install (a wheel) holds only the packages it names."""

from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent


def _on_disk() -> set[str]:
    """Every package of the repository (a folder with __init__.py) by the name it is imported as."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: ROOT / folder for name, folder in config.get("package-dir", {}).items()}
    folders.setdefault("pimlab", ROOT / "pimlab")
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            if "__pycache__" not in parts:
                found.add(".".join((name, *parts)))
    return found


def test_every_package_is_listed_and_every_listed_one_exists():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = _on_disk()
    assert {"pimlab", "pimlab.engine", "pimlab.figures", "pimlab_widgets"} <= on_disk  # the walk finds them
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set(), "these listed packages have no folder with __init__.py"
