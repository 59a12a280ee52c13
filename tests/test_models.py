"""Table I models: sizes, decode-step costs, and input checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.models import LLM, LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_128K_GQA, MODELS, model_named


def test_table_i_shapes():
    assert [m.layers for m in MODELS] == [32, 32, 80, 80]
    assert [m.group_size for m in MODELS] == [1, 4, 1, 8]
    assert [m.context_window for m in MODELS] == [32768, 131072, 32768, 131072]


def test_kv_bytes_per_token_by_hand():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 B = 128 KiB (docs/sources.md §4)
    assert LLM_7B_128K_GQA.kv_bytes_per_token == 128 * 1024
    assert LLM_7B_32K.kv_bytes_per_token == 512 * 1024
    assert LLM_72B_128K_GQA.kv_bytes_per_token == 2 * 80 * 8 * 128 * 2


def test_weights_are_about_the_named_size():
    assert 6.5e9 < LLM_7B_128K_GQA.params < 8.5e9
    # the generic 72B-GQA keeps d_ff = 24K of Table I, so it is lighter than Llama3.1-70B
    assert 60e9 < LLM_72B_128K_GQA.params < 80e9


def test_intensity_by_hand_on_a_tiny_model():
    tiny = LLM("tiny", layers=1, heads=2, kv_heads=1, head_dim=4, hidden=8, ffn=16, context_window=100, vocab=10)
    # layer: Q,O 2*8*2*4 = 128, K,V 2*8*1*4 = 64, FFN 3*8*16 = 384 -> 576; + embeddings 2*10*8 = 160
    assert tiny.params == 736
    # FLOPs: FC 2*(576 + 80) = 1312, attention 4*1*2*4*10 = 320; bytes: weights 1472 + KV 10*16 = 160
    assert tiny.decode_flops(1, 10)[0] == 1632
    assert tiny.decode_bytes(1, 10)[0] == 1632
    assert tiny.compute_intensity(1, 10)[0] == 1.0


def test_intensity_falls_with_context():
    context = np.array([4096, 32768, 131072])
    intensity = LLM_7B_128K_GQA.compute_intensity(64, context)
    assert np.all(np.diff(intensity) < 0)
    # attention does 4*h*d FLOPs per 4*h_kv*d bytes of KV, so long context pulls intensity towards g = 4
    assert 4 < intensity[-1] < intensity[0] / 4


def test_decode_costs_scale_with_batch():
    one = LLM_7B_32K.decode_flops(1, 8192)
    assert LLM_7B_32K.decode_flops(8, 8192) == pytest.approx(8 * one)
    assert LLM_7B_32K.kv_bytes(4, 1000) == pytest.approx(4 * 1000 * 512 * 1024)


def test_model_lookup():
    assert model_named("LLM-72B-32K").heads == 64
    with pytest.raises(ValueError, match="model must be one of"):
        model_named("GPT-5")


@settings(max_examples=40, deadline=None)
@given(st.integers(131073, 10**7))
def test_context_beyond_window_rejected(tokens):
    with pytest.raises(ValueError, match=rf"context_tokens must be in \[1, 131072\] for LLM-7B-128K-GQA, got {tokens}"):
        LLM_7B_128K_GQA.footprint_bytes(1, tokens)


@settings(max_examples=40, deadline=None)
@given(st.integers(-100, 0))
def test_batch_must_be_positive(batch):
    with pytest.raises(ValueError, match="batch must be an integer"):
        LLM_7B_32K.decode_flops(batch, 1024)


def test_non_integer_context_rejected():
    with pytest.raises(ValueError, match="context_tokens must be integers"):
        LLM_7B_32K.kv_bytes(1, 10.5)


def test_batch_that_fits_and_one_that_does_not():
    capacity = 80 * 2**30
    assert LLM_7B_128K_GQA.check_fits([65536] * 8, capacity).tolist() == [65536] * 8
    with pytest.raises(ValueError, match=r"batch must fit one A100: 9 requests, 589824 tokens of LLM-7B-128K-GQA "
                                         r"need 85.5 GiB \(weights 13.5 \+ KV cache 72.0\), one A100 has 80.0 GiB"):
        LLM_7B_128K_GQA.check_fits([65536] * 9, capacity, "one A100")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 131072), min_size=1, max_size=64), st.integers(1, 2**40))
def test_fit_check_agrees_with_footprint(lengths, capacity):
    # independent of check_fits: the footprint of each request alone (weights once), and Table I by hand
    alone = sum(float(LLM_7B_128K_GQA.footprint_bytes(1, n)[0]) - LLM_7B_128K_GQA.weight_bytes for n in lengths)
    assert alone == sum(lengths) * 2 * 32 * 8 * 128 * 2  # K and V x layers x KV heads x d_h x 2 B
    needed = LLM_7B_128K_GQA.weight_bytes + alone
    if needed <= capacity:
        assert LLM_7B_128K_GQA.check_fits(lengths, capacity).sum() == sum(lengths)
    else:
        with pytest.raises(ValueError, match="batch must fit"):
            LLM_7B_128K_GQA.check_fits(lengths, capacity)


def test_llama2_parameter_counts_match_the_released_checkpoints():
    from pimlab.models import LLAMA2_7B, LLAMA2_70B
    # meta-llama/Llama-2-{7b,70b}-hf report 6,738,415,616 and 68,976,648,192 parameters; pimlab leaves out only the
    # RMSNorm weights (2 per layer plus a final one, `hidden` each)
    for model, released in ((LLAMA2_7B, 6_738_415_616), (LLAMA2_70B, 68_976_648_192)):
        norms = (2 * model.layers + 1) * model.hidden
        assert model.params + norms == released
    assert LLAMA2_7B.kv_bytes_per_token == 512 * 1024  # MHA: 2 x 32 x 32 x 128 x 2 B
    assert LLAMA2_70B.kv_bytes_per_token == 320 * 1024  # GQA 8 KV heads: 2 x 80 x 8 x 128 x 2 B
    assert model_named("Llama2-70B") is LLAMA2_70B and LLAMA2_70B not in MODELS
