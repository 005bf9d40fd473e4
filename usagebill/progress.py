"""Progress of long steps: how many done, how fast, and the estimated time left.

    progress = Progress("invoice documents", total=len(documents), emit=context.log.info)
    for document in documents:
        ...
        progress.advance()
    progress.finish()

Lines are emitted at most every `every_seconds` (and at the end), e.g.
``invoice documents: 12,000/100,000 (12 %), 41.3/s, about 35 min 30 s left``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None,
        emit: Callable[[str], None] = print,
        *,
        every_seconds: float = 5.0,
        unit: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.emit, self.every, self.unit = label, total, emit, every_seconds, unit
        self.clock = clock
        self.started = self._last = clock()
        self.done = 0

    def line(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            left = (self.total - self.done) / rate if rate > 0 else None
            eta = (
                f", about {format_duration(left)} left" if left is not None and self.done < self.total else ""
            )
            return (
                f"{self.label}: {self.done:,}/{self.total:,}{unit} ({self.done * 100 // self.total} %), "
                f"{rate:,.1f}/s{eta}"
            )
        return f"{self.label}: {self.done:,}{unit}, {rate:,.1f}/s"

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self._last >= self.every:
            self._last = now
            self.emit(self.line())

    def finish(self) -> None:
        elapsed = self.clock() - self.started
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            counted = f"{self.done:,}/{self.total:,}{unit} ({self.done * 100 // self.total} %)"
        else:
            counted = f"{self.done:,}{unit}"
        self.emit(f"{self.label}: {counted} done in {format_duration(elapsed)}")
