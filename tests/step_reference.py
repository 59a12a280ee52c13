"""A decode step timed one layout at a time, as `pimlab.system` did before it timed a search's layouts together
(pimlab 2026-12-03): one array per layout, over its micro-batches. The tests check `system.steps` and `search`
against it, float for float."""

from __future__ import annotations

import numpy as np

from pimlab.system import (
    NEUPIMS_SUB_BATCHES,
    SCORE_BURSTS_PER_32B,
    VECTOR_BURSTS_PER_BLOCK,
    StepConfig,
    StepResult,
    _micro_items,
    _pim_fc,
    _step_result,
    attention_counts,
    busiest_channels,
    cent_accelerator_cycles,
    cxl_allreduce_s,
    cxl_vector_s,
)


def micro_sums(values: np.ndarray, n_micro: int) -> np.ndarray:
    """Per micro-batch sums of per-request `values` (request i rides in micro-batch i % n_micro), each added in
    request order, exactly as summing the micro-batch's own requests: shape (n_micro,) + values.shape[1:]."""
    values = np.asarray(values)
    per = -(-len(values) // n_micro)
    padded = np.zeros((per * n_micro,) + values.shape[1:], dtype=values.dtype)
    padded[:len(values)] = values
    return padded.reshape((per, n_micro) + values.shape[1:]).sum(0)


def micro_sizes(requests: int, n_micro: int) -> np.ndarray:
    """Requests in each micro-batch when request i rides in micro-batch i % n_micro."""
    return (requests - np.arange(n_micro) + n_micro - 1) // n_micro


def _attention(cfg: StepConfig, lengths: np.ndarray, n_micro: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qk, sv) counts of one layer of each micro-batch on its unit's busiest channel (the critical path), and
    the counts summed over the unit's channels (for energy): arrays (n_micro, counts)."""
    lay, tech, mod = cfg.layout, cfg.techniques, cfg.layout.system.module
    m, ch = lay.model, lay.unit_channels
    kvh = -(-m.kv_heads // lay.tp)
    # CENT's baseline runs CENT's own attention sequence; with TCP, PIMphony's compiler generates the attention code
    cent_code = cfg.kind == "cent" and not tech.tcp
    args = (m.head_dim, m.group_size, tech.dcs and m.group_size > 1, tech.policy, mod, cfg.engine, cent_code)
    if tech.tcp:  # every (request, head): its 16-token tiles dealt over all channels; the busiest holds the ceil
        per_channel = np.ceil(np.ceil(lengths / mod.banks) / ch) * mod.banks
        qk = micro_sums(attention_counts("qk", per_channel, *args), n_micro) * kvh
        sv = micro_sums(attention_counts("sv", per_channel, *args), n_micro) * kvh
        sizes = micro_sizes(lengths.size, n_micro)
        sv[:, 0] += kvh * sizes * (m.head_dim // mod.banks) * ch  # HUB adds each channel's partial tile: 1 tCK
        return qk, sv, (qk + sv) * ch
    qk_all = attention_counts("qk", lengths, *args)
    sv_all = attention_counts("sv", lengths, *args)
    both = np.concatenate([qk_all, sv_all], axis=-1)  # (requests, qk counts then sv counts)
    if cfg.kind == "cent":  # [C] CENT pins (request, head) pairs to channels in turn
        items = _micro_items(np.repeat(both[:, None], kvh, 1), n_micro)
    else:  # [N] NeuPIMs: one request (all its heads) per channel
        items = _micro_items(both[:, None] * kvh, n_micro)
    k = qk_all.shape[-1]
    qk, sv = items[..., :k], items[..., k:]
    on_busiest = np.where(busiest_channels(qk[..., 0] + sv[..., 0], ch)[..., None], items, 0.0).sum(1)
    return on_busiest[:, :k], on_busiest[:, k:], (qk + sv).sum(1)


def _layer_parts(cfg: StepConfig, lengths: np.ndarray, n_micro: int) -> dict[str, np.ndarray]:
    """Seconds of one layer of each micro-batch on one unit, by component; plus the MACs done in PIM and command
    counts: arrays over the micro-batches (request i rides in micro-batch i % n_micro)."""
    lay, mod = cfg.layout, cfg.layout.system.module
    m, tck = lay.model, mod.timing.tck_ns * 1e-9
    n = micro_sizes(lengths.size, n_micro)
    tokens = micro_sums(lengths, n_micro)
    heads = m.heads / lay.tp
    qk, sv, total = _attention(cfg, lengths, n_micro)
    macs_attention = 2.0 * heads * m.head_dim * tokens
    macs_fc = n * m.layer_params / lay.tp
    on_pim = macs_attention + (macs_fc if cfg.kind == "cent" else 0.0)  # [N] NeuPIMs runs the FCs on its NPU
    part = {"qk": qk[:, 0] * tck, "sv": sv[:, 0] * tck, "macs": on_pim * lay.tp,
            "attention_commands": total[:, 1:] * lay.tp, "fc_commands": np.zeros((n_micro, 4))}
    if cfg.kind == "cent":
        fc = _pim_fc(cfg)[None, :] * n[:, None]
        part["fc"] = fc[:, 0] * tck
        part["fc_commands"] = fc[:, 1:] * lay.unit_channels * lay.tp
        acc = cent_accelerator_cycles(m, tokens / n, heads, mod.channels)
        share = lay.units_per_module  # [C] the device's accelerator serves its blocks one after another
        part["nmu"] = n * (acc["rmsnorm"] + acc["rotary"]) * share * tck
        scores = SCORE_BURSTS_PER_32B * heads * tokens * m.dtype_bytes / 32
        vectors = n * VECTOR_BURSTS_PER_BLOCK * m.hidden * m.dtype_bytes / 32

        def host(bursts):  # serial through the device's front end, or spread over the unit's channel buses
            return bursts * share if cfg.host_serial else bursts / lay.unit_channels * mod.timing.tBL

        part["softmax"] = (host(scores) + n * acc["softmax"] * share) * tck
        part["nmu"] = part["nmu"] + host(vectors) * tck
        part["host_bursts"] = scores + vectors
    else:
        part.update(_npu_layer(cfg, n, tokens))
        part["host_bursts"] = np.zeros(n_micro)
    return part


def _npu_fc_s(cfg: StepConfig, requests):
    """NeuPIMs: one layer's FC of `requests` requests on the NPU, the roofline of its FLOPs and weight reads."""
    lay = cfg.layout
    m, sysm, modules = lay.model, lay.system, lay.unit_modules
    flops = 2.0 * requests * m.layer_params / lay.tp
    bw = modules * sysm.module.external_bandwidth_GBps * 1e9
    return np.maximum(flops / (modules * sysm.xpu_TFLOPs * 1e12), m.layer_params * m.dtype_bytes / lay.tp / bw)


def _npu_layer(cfg: StepConfig, n: np.ndarray, tokens: np.ndarray) -> dict[str, np.ndarray]:
    """NeuPIMs: FC on the NPU; softmax and norms move scores and activations PIM <-> NPU once each way."""
    lay = cfg.layout
    m = lay.model
    bw = lay.unit_modules * lay.system.module.external_bandwidth_GBps * 1e9
    moved = 2.0 * (m.heads / lay.tp * tokens + 4 * m.hidden * n) * m.dtype_bytes
    return {"fc": _npu_fc_s(cfg, n), "nmu": moved / bw, "softmax": np.zeros(n.size)}


def _stage_times(cfg: StepConfig, lengths: np.ndarray, n_micro: int):
    """(stage x micro-batch) seconds, per-component sums of each micro-batch's round trip (arrays over the
    micro-batches), and the step's MACs, counts and busy times (added micro-batch by micro-batch)."""
    lay = cfg.layout
    layers = lay.stage_layers
    p = _layer_parts(cfg, lengths, n_micro)
    link = cxl_vector_s(lay.model.hidden, lay.system.modules) if lay.pp > 1 else 0.0
    allreduce = cxl_allreduce_s(lay.model, lay.tp, lay.system.modules)
    if cfg.kind == "cent":
        layer = p["fc"] + p["qk"] + p["sv"] + p["softmax"] + p["nmu"]
    else:  # [N] sub-batches: the NPU's FC of one overlaps PIM attention of the other (flow shop)
        n = micro_sizes(lengths.size, n_micro)
        k = np.minimum(NEUPIMS_SUB_BATCHES, n)
        fc_k, at_k = _npu_fc_s(cfg, n / k), (p["qk"] + p["sv"]) / k
        layer = fc_k + (k - 1) * np.maximum(fc_k, at_k) + at_k + p["nmu"]
        p["fc"] = layer - p["qk"] - p["sv"] - p["nmu"]  # the FC time attention does not hide
    t = layers[:, None] * (layer + allreduce)[None, :] + link
    total_layers = layers.sum()
    comps = {name: total_layers * p[name] for name in ("fc", "qk", "softmax", "sv", "nmu")}
    comps["link"] = np.full(n_micro, total_layers * allreduce + lay.pp * link)
    comps["exposed"] = np.zeros(n_micro)

    # each total: 0 + the first micro-batch's + the second's ...: cumsum adds in that order (all columns at once)
    columns = np.empty((n_micro, 12))
    columns[:, 0], columns[:, 1:5], columns[:, 5:9] = p["macs"], p["attention_commands"], p["fc_commands"]
    columns[:, 9], columns[:, 10], columns[:, 11] = p["host_bursts"], p["qk"] + p["sv"] + p["softmax"], p["fc"]
    added = np.cumsum(total_layers * columns, axis=0)[-1]
    totals = {"macs": added[0], "attention_commands": added[1:5], "fc_commands": added[5:9], "host_bursts": added[9],
              "attention_s": added[10], "fc_s": added[11]}
    return t, comps, totals


def timed(cfg: StepConfig, lengths: np.ndarray) -> StepResult:
    """`step` of a batch known to fit (or not checked): this module's stage times, then the step as pimlab forms it
    from them (`system._step_result`, what the grouped path shares with it)."""
    # [C] CENT keeps one request per stage in flight; requests are dealt to micro-batches in turn
    n_micro = min(lengths.size, cfg.layout.pp)
    return _step_result(cfg, lengths, n_micro, *_stage_times(cfg, lengths, n_micro))
