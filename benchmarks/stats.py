"""Summaries of latency samples: median, p95, p99 and max (milliseconds)."""

from __future__ import annotations

from typing import Any

import numpy as np


def dist(samples: list[float]) -> dict[str, Any]:
    """``{"n", "p50", "p95", "p99", "max"}``; the percentiles are None without samples."""
    if not samples:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    values = np.asarray(samples, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99]).tolist()
    return {
        "n": len(samples),
        "p50": round(p50, 3),
        "p95": round(p95, 3),
        "p99": round(p99, 3),
        "max": round(float(values.max()), 3),
    }
