"""The simulated clock: the configured `now` plus the real time elapsed since start."""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class SimulatedClock:
    """Ticks in real time from a configured start; tests may jump it forward."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._started_at: float | None = None
        self._skipped_s = 0.0

    def start(self) -> None:
        """Start ticking (until then the clock reads the configured start)."""
        self._started_at = time.monotonic()

    def now(self) -> datetime:
        elapsed = 0.0 if self._started_at is None else time.monotonic() - self._started_at
        return self._start + timedelta(seconds=elapsed + self._skipped_s)

    def advance(self, seconds: float) -> None:
        """Jump forward, e.g. past a token's expiry, without sleeping."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        self._skipped_s += seconds
