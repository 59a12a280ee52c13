"""No function of the command engine over 60 lines or McCabe complexity 15 (counted by bench/complexity.py)."""

import importlib.util
from pathlib import Path


def _complexity_module():
    path = Path(__file__).resolve().parent.parent / "bench" / "complexity.py"
    spec = importlib.util.spec_from_file_location("engine_complexity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_functions_are_small():
    module = _complexity_module()
    rows = [(f, *row) for f in module.ENGINE_FILES for row in module.functions(module.ROOT / f)]
    assert len(rows) > 50
    assert [r for r in rows if r[2] > module.MAX_LINES or r[3] > module.MAX_COMPLEXITY] == []


def test_the_counter_agrees_with_a_hand_count():
    import ast

    source = "def f(x):\n    if x and x > 1 or x < -1:\n        return [y for y in x if y]\n    return 0 if x else 1\n"
    # 1 + if + (and, or: 2 terms beyond the first) + comprehension + its if + conditional expression = 7
    assert _complexity_module().complexity(ast.parse(source).body[0]) == 7
