"""Rate limits: a token bucket per API token (or per client address when there is none).

Numbers (documented in README.md, "Leaderboard"):

* experiments (``POST .../experiments``): bursts of :data:`EXPERIMENT_BURST`, refilled at
  :data:`EXPERIMENT_RATE` per second;
* submissions and sessions: bursts of :data:`SUBMIT_BURST`, refilled at one per
  ``1 / SUBMIT_RATE`` = 20 s;
* other writes without a token (registration, chat, forms): bursts of :data:`ANON_BURST` per
  client address, :data:`ANON_RATE` per second.

A request over its limit gets ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

__all__ = [
    "ANON_BURST",
    "ANON_RATE",
    "EXPERIMENT_BURST",
    "EXPERIMENT_RATE",
    "SUBMIT_BURST",
    "SUBMIT_RATE",
    "Limits",
    "RateLimiter",
]

EXPERIMENT_BURST, EXPERIMENT_RATE = 20.0, 5.0
SUBMIT_BURST, SUBMIT_RATE = 5.0, 0.05
ANON_BURST, ANON_RATE = 20.0, 2.0


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by key: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, burst: float, rate: float, *, clock: object = time.monotonic) -> None:
        self.burst, self.rate = burst, rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        clock = self._clock
        assert callable(clock)
        return float(clock())

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0 if allowed, else the seconds until one is free."""
        now = self._now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) > 100_000:  # forget idle keys rather than grow forever
                    self._buckets.clear()
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


class Limits:
    """The app's limiters."""

    def __init__(self, *, scale: float = 1.0) -> None:
        self.experiments = RateLimiter(EXPERIMENT_BURST * scale, EXPERIMENT_RATE * scale)
        self.submissions = RateLimiter(SUBMIT_BURST * scale, SUBMIT_RATE * scale)
        self.anonymous = RateLimiter(ANON_BURST * scale, ANON_RATE * scale)


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header value for a wait of ``seconds``."""
    return str(max(1, math.ceil(seconds)))
