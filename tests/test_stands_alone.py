"""The kit stands alone: no notebook, code, test or doc cites a file the repository does not hold, and nothing
is fetched from a CDN at run time."""

import ast
import io
import json
import os
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".git", ".venv", "build", "dist", "_site", "node_modules"}
TEXT = {".py", ".ipynb", ".md", ".toml", ".txt", ".cfg", ".json", ".j2", ".html", ""}
# a file name with one of the kit's own kinds, optionally with a folder path before it
CITED = re.compile(r"(?<![\w/.*-])((?:\.\.?/)?(?:[\w-]+/)*[\w-]+\.(?:md|ipynb|py|png|csv|cfg|toml|json))\b")
URL = re.compile(r"https?://\S+")
# a line that names a file of a public repository (docs/sources.md lists them) or a file the kit writes cites
# nothing in this one
ELSEWHERE = re.compile(r"Yufeng98/CENT|cent_simulation|arkhadem/aim_simulator|casys-kaist/NeuPIMs|meta-llama/|"
                       r"\bCENT's\b|\[C\b|\breproduction\.(json|md)\b|\bwrites?\b|\bwritten\b|"
                       r"--(out|json|chrome-trace|csv)\b|\bOUT\b")


def _all_files():
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP and (not d.startswith(".") or d == ".ci")]
        yield from (Path(folder) / name for name in names)


def _files():
    """The kit's text files, this test excepted (it names missing files on purpose)."""
    this = Path(__file__).resolve()
    return [p for p in _all_files() if p.suffix in TEXT and p != this and p.stat().st_size < 2_000_000]


def _prose(path: Path) -> str:
    """What a reader reads: comments and docstrings of Python, markdown and code comments of notebooks, all
    of other files (code like `args.csv` or `tmp_path / "card.json"` is not a citation)."""
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        return "\n".join("".join(c["source"]) if c["cell_type"] == "markdown" else _comments("".join(c["source"]))
                         for c in cells)
    if path.suffix == ".py":
        return _comments(text) + "\n" + _docstrings(text)
    return text


def _comments(code: str) -> str:
    try:
        return "\n".join(t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                         if t.type == tokenize.COMMENT)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "\n".join(line.partition("#")[2] for line in code.splitlines())


def _docstrings(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                   ast.ClassDef))]
    return "\n".join(ast.get_docstring(n) or "" for n in nodes)


def _exists(name: str, source: Path, names: set[str]) -> bool:
    if "/" not in name.removeprefix("./"):
        return name.removeprefix("./") in names
    return (ROOT / name).exists() or (source.parent / name).exists()


def test_every_cited_file_is_in_the_repository():
    names = {p.name for p in _all_files()}
    missing = []
    for path in _files():
        lines = URL.sub("", _prose(path)).splitlines()
        for name in CITED.findall("\n".join(line for line in lines if not ELSEWHERE.search(line))):
            if not _exists(name, path, names):
                missing.append(f"{path.relative_to(ROOT)} cites {name}")
    assert not missing, "\n".join(sorted(set(missing)))


def test_the_files_the_brief_names_are_not_cited():
    """figures.md and hardware.md were the project's private notes; the kit cites docs/sources.md instead."""
    private = re.compile(r"\b(figures|hardware)\.md\b|shared/spec")
    hits = [f"{p.relative_to(ROOT)}" for p in _files() if private.search(p.read_text(errors="replace"))]
    assert not hits, hits


def test_the_checker_sees_a_missing_file(tmp_path):
    """The pattern finds a cited path and the lookup refuses it (so the first test can fail)."""
    source = ROOT / "pimlab" / "x.py"
    assert CITED.findall("see ../shared/spec/figures.md section 3 and docs/sources.md") == [
        "../shared/spec/figures.md", "docs/sources.md"]
    names = {p.name for p in _all_files()}
    assert not _exists("figures.md", source, names) and _exists("docs/sources.md", source, names)


def test_no_cdn_at_run_time():
    """Voila's own page template links a CDN stylesheet; the kit's template (share/jupyter/voila) does not."""
    template = ROOT / "share" / "jupyter" / "voila" / "templates" / "pimlab" / "index.html.j2"
    assert template.exists()
    for path in [template, *ROOT.glob("widgets/*.py"), *ROOT.glob("pimlab/**/*.py")]:
        assert not re.search(r"cdn\.|jsdelivr|unpkg|cdnjs", path.read_text()), path
