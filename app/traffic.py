"""The relay's traffic over the last minutes, for the dashboard's chart.

The relay reports rates over its last ~2 s (relay/ADMIN.md §GET /stats); the app samples them
every few seconds, whether or not a dashboard is open, so the chart has a past when the host
opens it. A sample of ``None`` values marks a time the relay did not answer (a gap in the chart).
"""

from __future__ import annotations

from collections import deque
from typing import Any

SERIES = ("messages_in", "messages_out", "bytes_in", "bytes_out", "refused_updates")
SAMPLE_INTERVAL = 2.0
SPAN = 300.0  # seconds of history kept


class TrafficHistory:
    def __init__(self, span: float = SPAN, interval: float = SAMPLE_INTERVAL) -> None:
        self.interval = interval
        self.samples: deque[dict[str, Any]] = deque(maxlen=max(1, round(span / interval)) + 1)

    def add(self, t: float, stats: dict[str, Any] | None) -> None:
        rates = (stats or {}).get("per_second") or {}
        sample: dict[str, Any] = {"t": round(t, 3)}
        for name in SERIES:
            value = rates.get(name)
            sample[name] = float(value) if stats is not None and isinstance(value, int | float) else None
        if self.samples and t <= self.samples[-1]["t"]:
            return  # a clock that went backwards: keep the series ordered
        self.samples.append(sample)

    def since(self, t: float) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["t"] > t]
