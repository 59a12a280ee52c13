"""Fig. 2 data: intensity falls, footprint crosses the A100 line, bad input is named."""

import numpy as np
import pytest

from pimlab.figures import fig2
from pimlab.hardware import GPU
from pimlab.models import LLM_7B_32K


def test_default_grid_and_trends():
    data = fig2()
    assert data.context_tokens[0] == 4096 and data.context_tokens[-1] == 131072
    assert data.intensity_flops_per_byte.shape == (4, data.context_tokens.size)
    assert np.all(np.diff(data.intensity_flops_per_byte, axis=1) < 0)
    assert np.all(np.diff(data.footprint_GiB, axis=0) > 0)  # bigger batches need more memory


def test_out_of_memory_boundary():
    data = fig2(batch_sizes=(8, 64), context_tokens=[8192, 32768, 65536, 131072])
    # weights 13.5 GiB + 8 x 64K x 128 KiB = 77.5 GiB fits; 8 x 128K needs 141.5 GiB and does not;
    # 64 x 8K x 128 KiB is 64 GiB too (77.5 GiB), 64 x 32K is 269.5 GiB
    assert data.fits.tolist() == [[True, True, True, False], [True, False, False, False]]
    assert data.max_context_that_fits().tolist() == [65536, 8192]
    two = fig2(batch_sizes=(8,), context_tokens=[131072], gpu=GPU(count=2))
    assert two.fits.tolist() == [[True]]


def test_bad_inputs():
    with pytest.raises(ValueError, match="batch size must be an integer"):
        fig2(batch_sizes=(0,))
    with pytest.raises(ValueError, match=r"context_tokens must be in \[1, 32768\]"):
        fig2(LLM_7B_32K, context_tokens=[65536])
    with pytest.raises(ValueError, match="batch_sizes must name at least one"):
        fig2(batch_sizes=())
