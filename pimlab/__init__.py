"""pimlab: a model of PIMphony (arXiv 2412.20166 v3), DRAM processing-in-memory for long-context LLM decoding.

numpy and the standard library only; the interactive layer lives in `pimlab_widgets`.
"""

from pimlab.hardware import A100, AIM, CENT, GPU, NEUPIMS, Module, System, Timing
from pimlab.models import LLM, MODELS, model_named
from pimlab.workloads import DATASETS, dataset_named, decode_trace

__version__ = "0.1.0"
__all__ = [
    "A100", "AIM", "CENT", "NEUPIMS", "GPU", "Module", "System", "Timing",
    "LLM", "MODELS", "model_named", "DATASETS", "dataset_named", "decode_trace",
]
