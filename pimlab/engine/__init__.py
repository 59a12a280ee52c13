"""The PIM command engine: one channel's commands scheduled under a policy, cycle by cycle.

- `timing`: the timing table (`EngineTiming`, keyed by `isa.Kind`) and its presets.
- `policies`: `Policy` and the built-in `Static`, `PingPong`, `DCS`; `register` adds one.
- `core`: the loop every policy shares (`Engine`; `Engine.run_plain` is the reference loop).
- `fast`: the built-in policies' specialised loops (`Engine.run` takes them): the same schedule, faster.
- `periodic`: the exact fast path for long periodic streams.
`pimlab.schedule.schedule` is the entry point.
"""
