"""DPA speed: allocating a decode trace of thousands of requests and ~1M generated tokens; ChunkMap updates.

Run: python bench/bench_dpa.py (prints numbers and ratios; not a test).
"""

import statistics
import time

from pimlab.dpa import KVLayout, LazyChunkAllocator, StaticAllocator, simulate
from pimlab.figures.fig19 import fig19
from pimlab.workloads import MULTIFIELDQA, QMSUM, decode_trace


def best_of(fn, *args, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def allocate(trace, allocator_class, layout):
    return simulate(trace, allocator_class(layout))


def main():
    for dataset in (QMSUM, MULTIFIELDQA):
        trace = decode_trace(dataset, 4000, seed=0, arrivals_per_step=0.1)
        layout = KVLayout(dataset.model)
        generated = int(trace.output_tokens.sum())
        for name, allocator_class in (("static", StaticAllocator), ("DPA", LazyChunkAllocator)):
            seconds = best_of(allocate, trace, allocator_class, layout)
            run = allocate(trace, allocator_class, layout)
            events = sum(run.messages.values())
            print(f"{dataset.name:13s} {name:6s}: {len(trace)} requests, {generated / 1e6:.2f}M generated tokens, "
                  f"{run.step[-1]} decode steps, {events} host-PIM messages: {seconds:.3f} s "
                  f"({generated / seconds / 1e6:.1f}M tokens/s)")
    seconds = best_of(fig19, repeat=1)
    print(f"fig19() (4 datasets x 2 allocators x 1000 requests): {seconds:.2f} s")

    from pimlab_widgets.chunkmap import chunkmap_app

    app = chunkmap_app()
    frames = app.controls["frame"].max + 1
    cached = []
    for i in range(20):
        start = time.perf_counter()
        assert app.set(frame=i % frames, va=i % 3)
        cached.append(time.perf_counter() - start)
    fresh = []
    for value in (1.05, 1.1, 1.15, 1.2):
        start = time.perf_counter()
        assert app.set(reserve_factor=value)
        fresh.append(time.perf_counter() - start)
    print(f"ChunkMap update (frame / VA, maps cached): median {1e3 * statistics.median(cached):.1f} ms, "
          f"max {1e3 * max(cached):.1f} ms")
    print(f"ChunkMap update (new knob, both traces re-run): median {1e3 * statistics.median(fresh):.1f} ms, "
          f"max {1e3 * max(fresh):.1f} ms; budget 100 ms: {100 / (1e3 * max(fresh)):.1f}x headroom")


if __name__ == "__main__":
    main()
