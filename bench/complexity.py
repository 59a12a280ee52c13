"""Size and cyclomatic complexity of every function of the command engine.

Run: python bench/complexity.py [FILES...]. Complexity is McCabe's, counted on the AST as radon counts it:
1 + each if / elif / for / while / except / with-less boolean operator term / conditional expression /
comprehension loop and condition / assert / match case. Prints the functions over the limits (60 lines,
complexity 15) and the largest ones; exits 1 if any is over. tests/test_engine_size.py runs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE_FILES = tuple(sorted(str(path.relative_to(ROOT)) for path in (ROOT / "pimlab" / "engine").glob("*.py"))) + (
    "pimlab/schedule.py", "pimlab/trace.py")  # every module of the engine, a new one included
MAX_LINES, MAX_COMPLEXITY = 60, 15


def complexity(node: ast.AST) -> int:
    """McCabe complexity of one function (nested functions counted in their own right, not here)."""
    score = 1
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(child))
        if isinstance(child, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.IfExp, ast.ExceptHandler, ast.Assert,
                              ast.match_case, ast.Lambda)):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
        elif isinstance(child, ast.comprehension):
            score += 1 + len(child.ifs)
    return score


def functions(path: Path):
    """(qualified name, lines, complexity) of every function in a file."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((name, child.end_lineno - child.lineno + 1, complexity(child)))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def main(argv: list[str]) -> int:
    files = argv or ENGINE_FILES
    rows = [(f, *row) for f in files for row in functions(ROOT / f)]
    over = [r for r in rows if r[2] > MAX_LINES or r[3] > MAX_COMPLEXITY]
    print(f"{len(rows)} functions in {len(files)} files; limits {MAX_LINES} lines, complexity {MAX_COMPLEXITY}")
    print("largest by complexity:")
    for f, name, lines, cc in sorted(rows, key=lambda r: -r[3])[:8]:
        print(f"  {cc:>3d}  {lines:>3d} lines  {f}:{name}")
    print("longest:")
    for f, name, lines, cc in sorted(rows, key=lambda r: -r[2])[:5]:
        print(f"  {lines:>3d} lines  cc {cc:>3d}  {f}:{name}")
    for f, name, lines, cc in over:
        print(f"OVER: {f}:{name} {lines} lines, complexity {cc}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
