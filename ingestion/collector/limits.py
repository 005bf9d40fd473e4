"""Per-key limits of the collector: an event rate (token bucket) and a daily quarantine budget.

Rate: each key has a bucket of ``burst`` tokens refilled at ``rate`` tokens per second. A request
is admitted while the bucket holds at least one token and then costs max(1, number of events), so the bucket
may go negative (a large batch is never refused for its size alone) and the key waits until it
refills: **429** with ``Retry-After`` (whole seconds, RFC 9110 section 10.2.3) in the meantime.

Quarantine: the bytes of quarantine lines each key may add per UTC day. Past it, rejected events
are still answered ``rejected`` with their reason (the sender's SDK keeps them in its dead-letter
file), but not written to the collector's quarantine, so a broken or hostile sender cannot fill
the disk; ``usagebill_collector_quarantine_refused_total`` counts them.

With ``--workers N`` the state of every key lives in one table shared by the worker processes
(`SharedTable`: a file in the supervisor's private run dir, memory-mapped by each worker, each
read-modify-write under ``flock``), so the limits hold for the collector as a whole, not N times
over. With one worker it is a dict in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import mmap
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

MAX_TRACKED_KEYS = 100_000

# one key's state: [tokens, refilled at (CLOCK_MONOTONIC: one clock for all processes of the
# machine), UTC day number of the quarantine budget, quarantine bytes used that day]
State = list[float]


class _MemoryTable:
    """The state of each key in this process (one worker)."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}

    @contextlib.contextmanager
    def state(self, key_id: str, new: State) -> Iterator[State]:
        states = self._states
        current = states.get(key_id)
        if current is None:
            if len(states) >= MAX_TRACKED_KEYS:
                states.clear()  # a forgotten key starts again with a full bucket
            current = states[key_id] = new
        yield current


_SLOT = struct.Struct("<16sdddd")  # key digest, tokens, refilled at, quarantine day, bytes used
_EMPTY_DIGEST = bytes(16)
SHARED_SLOTS = 65_536  # 65,536 x 48 bytes = 3 MiB
_PROBES = 64


class SharedTable:
    """The state of each key in a file shared by the workers of one collector (``--workers N``).

    Open addressing over ``SHARED_SLOTS`` slots by the blake2b digest of the key id (probing at
    most 64 slots; when all are taken the key reuses its first slot, i.e. starts again with a full
    bucket, as the in-memory table does when it holds 100,000 keys). Every read-modify-write holds
    an exclusive ``flock`` on the file, so two workers never interleave on one key; the kernel
    drops the lock of a worker that dies. A restarted worker maps the same file: nothing is reset.
    """

    def __init__(self, path: Path, slots: int = SHARED_SLOTS) -> None:
        self.path = path
        self.slots = slots
        size = slots * _SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)  # zero-filled: every slot empty
        self._map = mmap.mmap(self._fd, size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _slot(self, digest: bytes) -> int:
        home = int.from_bytes(digest[:8], "big") % self.slots
        for probe in range(_PROBES):
            slot = (home + probe) % self.slots
            stored = self._map[slot * _SLOT.size : slot * _SLOT.size + 16]
            if stored in (digest, _EMPTY_DIGEST):
                return slot
        return home

    @contextlib.contextmanager
    def state(self, key_id: str, new: State) -> Iterator[State]:
        digest = hashlib.blake2b(key_id.encode(), digest_size=16).digest()
        with self._locked():
            offset = self._slot(digest) * _SLOT.size
            stored, *values = _SLOT.unpack_from(self._map, offset)
            current = values if stored == digest else list(new)
            yield current
            _SLOT.pack_into(self._map, offset, digest, *current)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class KeyLimits:
    def __init__(
        self, rate: float, burst: float, quarantine_bytes_per_day: int, shared: Path | None = None
    ) -> None:
        """``shared``: the file of the table the workers of one collector share (None: in memory)."""
        self.rate = rate
        self.burst = max(burst, rate, 1.0)
        self.quarantine_bytes_per_day = quarantine_bytes_per_day
        self._table: _MemoryTable | SharedTable = SharedTable(shared) if shared else _MemoryTable()
        self.quarantine_refused = 0  # this process's counters (/metrics counts per worker)
        self.rate_limited = 0

    def _refill(self, state: State, now: float) -> None:
        state[0] = min(self.burst, state[0] + (now - state[1]) * self.rate)
        state[1] = now

    # ------------------------------------------------------------------ rate
    def retry_after(self, key_id: str, now: float | None = None) -> int | None:
        """Seconds the key must wait before its next request, or None when it may send now."""
        if self.rate <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._table.state(key_id, [self.burst, now, 0.0, 0.0]) as state:
            self._refill(state, now)
            tokens = state[0]
        if tokens >= 1:
            return None
        self.rate_limited += 1
        return max(1, math.ceil((1 - tokens) / self.rate))

    def charge(self, key_id: str, events: int, now: float | None = None) -> None:
        if self.rate > 0:
            now = time.monotonic() if now is None else now
            with self._table.state(key_id, [self.burst, now, 0.0, 0.0]) as state:
                self._refill(state, now)
                state[0] -= max(1, events)

    # ------------------------------------------------------------------ quarantine
    def quarantine_allowance(self, key_id: str, sizes: list[int]) -> int:
        """How many of these quarantine lines (in order) the key may still write today; books them."""
        if self.quarantine_bytes_per_day <= 0:
            return len(sizes)
        day = float(int(time.time() // 86_400))  # the UTC day
        allowed = 0
        with self._table.state(key_id, [self.burst, time.monotonic(), day, 0.0]) as state:
            if state[2] != day:
                state[2], state[3] = day, 0.0
            used = state[3]
            for size in sizes:
                if used + size > self.quarantine_bytes_per_day:
                    break
                used += size
                allowed += 1
            state[3] = used
        self.quarantine_refused += len(sizes) - allowed
        return allowed

    def close(self) -> None:
        if isinstance(self._table, SharedTable):
            self._table.close()
