"""rtws benchmarks: latency, CPU and scale of real-time voice sessions against local fakes.

``python -m benchmarks`` (``--quick`` for a one-minute run) starts the fake
OpenAI Realtime server in its own process, runs each client kind in another
process, prints a table and writes JSON and a PNG under ``benchmarks/results/``.
See ``docs/performance.md`` for what is measured and why.
"""
