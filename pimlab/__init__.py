"""pimlab: a model of PIMphony (arXiv 2412.20166 v3), DRAM processing-in-memory for long-context LLM decoding.

numpy and the standard library only; the interactive layer lives in `pimlab_widgets`.
"""

from importlib import import_module

__version__ = "0.1.0"
__all__ = [
    "A100", "AIM", "CENT", "NEUPIMS", "GPU", "Module", "System", "Timing",
    "LLM", "MODELS", "model_named", "DATASETS", "dataset_named", "decode_trace",
]
_HOME = dict.fromkeys(__all__[:8], "hardware") | dict.fromkeys(__all__[8:11], "models") | dict.fromkeys(
    __all__[11:], "workloads")


def __getattr__(name: str):
    """The names above load their modules (and numpy) on first use: `python -m pimlab simulate` of a whole
    program starts without them."""
    if name not in _HOME:
        raise AttributeError(f"module 'pimlab' has no attribute {name!r}")
    value = globals()[name] = getattr(import_module(f"pimlab.{_HOME[name]}"), name)
    return value
