"""Progress lines: counts, rate and time left, computed on a fake clock."""

from __future__ import annotations

from usagebill.progress import Progress, format_duration


def test_progress_reports_rate_and_time_left():
    now = [0.0]
    lines: list[str] = []
    progress = Progress("documents", total=1000, emit=lines.append, every_seconds=5, clock=lambda: now[0])
    now[0] = 4.0
    progress.advance(100)  # 4 s in: not yet a line (every 5 s)
    assert lines == []
    now[0] = 10.0
    progress.advance(150)  # 250 done in 10 s = 25/s; 750 left / 25 = 30 s
    assert lines == ["documents: 250/1,000 (25 %), 25.0/s, about 30 s left"]
    now[0] = 40.0
    progress.advance(750)
    progress.finish()
    assert lines[-1] == "documents: 1,000/1,000 (100 %) done in 40 s"


def test_durations_read_like_a_person_writes_them():
    assert [format_duration(s) for s in (0, 59, 61, 3599, 3600, 36_125)] == [
        "0 s",
        "59 s",
        "1 min 1 s",
        "59 min 59 s",
        "1 h 0 min",
        "10 h 2 min",
    ]
