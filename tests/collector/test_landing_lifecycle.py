"""Nothing acknowledged is left behind: recovered segments are loaded whatever their date, loaded
segments are archived, dedup key files are checked and rebuilt, transient write errors pass."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingestion.collector import landing_log
from ingestion.collector.landing_log import LandingLog, LogBusyError, event_key
from ingestion.landing import load_landing, read_manifest
from tests.collector.conftest import event

LANDING = ("landing", "usage", "collector")


def _segment(data: Path, name: str, ids: list[str], *, suffix: str = ".jsonl") -> Path:
    folder = data.joinpath(*LANDING)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({**event(i), "tenant_id": "acme", "source": "api", "arrived_at": "2026-10-01T10:00:00Z"})
        for i in ids
    ]
    path = folder / f"{name}{suffix}"
    path.write_text("\n".join(lines) + "\n")
    return path


def _set_mtime(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def quiet(_: str) -> None:
    pass


def test_recovered_segment_is_loaded_by_the_next_scheduled_run(tmp_path: Path) -> None:
    """Crash on 2026-10-01 with a segment open; the run for 10-01 already happened (it saw nothing
    sealed); the collector restarts on 10-02 and seals it with its 10-01 mtime. The scheduled run of
    10-02 used to skip it (arrival day 10-01, not asked for): now it loads it as arrived on 10-02,
    then archives it, and a re-run loads nothing twice."""
    data, raw = tmp_path / "data", tmp_path / "raw"
    open_seg = _segment(data, "20261001T100000000000Z-7-000001", ["a", "b", "c"], suffix=".jsonl.open")
    _set_mtime(open_seg, datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    first = load_landing(data, raw, arrival_dates=[date(2026, 10, 1)], progress=quiet)
    assert first.rows_loaded == 0  # still .open at that run
    LandingLog(data).recover()  # the restart seals it (mtime stays 10-01)
    sealed = data.joinpath(*LANDING, "20261001T100000000000Z-7-000001.jsonl")
    assert sealed.exists()
    _set_mtime(sealed, datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    report = load_landing(data, raw, arrival_dates=[date(2026, 10, 2)], progress=quiet)
    assert report.rows_loaded == 3
    assert report.by_arrival_date == {
        date(2026, 10, 2): {"files": 1, "rows_loaded": 3, "rows_quarantined": 0}
    }
    # archived: the landing folder is empty, the archive holds it under its creation day
    assert list(data.joinpath(*LANDING).glob("*.jsonl")) == []
    archived = data / "archive/usage/collector/2026-10-01/20261001T100000000000Z-7-000001.jsonl"
    assert archived.exists()
    again = load_landing(data, raw, arrival_dates=[date(2026, 10, 3)], progress=quiet)
    assert again.rows_loaded == 0
    assert [r["rows_loaded"] for r in read_manifest(raw)] == [3]


def test_segment_of_a_later_day_waits_for_its_run(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    seg = _segment(data, "20261005T000000000000Z-7-000001", ["x"])
    _set_mtime(seg, datetime(2026, 10, 5, 0, 0, tzinfo=UTC))
    assert load_landing(data, raw, arrival_dates=[date(2026, 10, 2)], progress=quiet).rows_loaded == 0
    assert seg.exists()


@pytest.mark.parametrize("damage", ["empty", "torn", "old_format"])
def test_damaged_key_file_is_rebuilt_not_trusted(tmp_path: Path, damage: str) -> None:
    """An empty .ids file used to be read as "no keys": every event of its segment could then be
    accepted again after a restart. Now the checksum fails and the file is rebuilt from the segment
    (also when the loader archived the segment)."""
    data = tmp_path / "data"
    seg = _segment(data, "20261001T100000000000Z-7-000001", ["a", "b"])
    log = LandingLog(data)
    log.recover()
    ids = data / "collector" / "index" / "20261001T100000000000Z-7-000001.ids"
    keys = [event_key("acme", "evt-a"), event_key("acme", "evt-b")]
    good = ids.read_bytes()
    assert good.startswith(landing_log.IDS_MAGIC) and len(good) == len(landing_log.IDS_MAGIC) + 16 * 3
    ids.write_bytes({"empty": b"", "torn": good[:-5], "old_format": b"".join(keys)[:16]}[damage])
    target = data / "archive/usage/collector/2026-10-01" / seg.name
    target.parent.mkdir(parents=True)
    os.replace(seg, target)
    log = LandingLog(data)
    report = log.recover()
    assert report.rebuilt_index_files == 1
    assert all(k in log.index for k in keys)
    assert ids.read_bytes() == good


def test_transient_write_error_is_a_503_not_a_failed_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EMFILE when opening a segment (file descriptors used up by sockets) used to fail the log
    until restart. Now that group is refused (LogBusyError -> 503 + Retry-After) and the next one
    is written."""
    log = LandingLog(tmp_path, max_segment_age=3600)
    log.recover()
    real_open = os.open
    calls = {"n": 0}

    def flaky_open(path: object, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(".jsonl.open") and calls["n"] == 0:
            calls["n"] += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, mode)

    monkeypatch.setattr(landing_log.os, "open", flaky_open)

    async def run() -> None:
        await log.start()
        k1, k2 = event_key("acme", "1"), event_key("acme", "2")
        with pytest.raises(LogBusyError):
            await log.stage([b'{"event_id":"1"}\n'], [k1], [])
        assert log.failed is None and k1 not in log.index  # the refused key may be sent again
        await log.stage([b'{"event_id":"2"}\n'], [k2], [])
        await log.close()

    asyncio.run(run())
    lines = [p.read_text() for p in tmp_path.joinpath(*LANDING).glob("*.jsonl")]
    assert lines == ['{"event_id":"2"}\n']
    assert log.stats["transient_failures"] == 1


def test_partial_write_on_disk_full_is_cut_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC after part of a group was written: the part is cut off (no torn line stays in front of
    the next group), the group is refused, the log goes on."""
    log = LandingLog(tmp_path, max_segment_age=3600)
    log.recover()
    real_write = os.write
    state = {"fail": False}

    def short_write(fd: int, data: object) -> int:
        if state["fail"]:
            state["fail"] = False
            real_write(fd, bytes(data)[:5])  # type: ignore[arg-type]
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(landing_log.os, "write", short_write)

    async def run() -> None:
        await log.start()
        await log.stage([b'{"event_id":"1"}\n'], [event_key("acme", "1")], [])
        state["fail"] = True
        with pytest.raises(LogBusyError):
            await log.stage([b'{"event_id":"2"}\n'], [event_key("acme", "2")], [])
        await log.stage([b'{"event_id":"3"}\n'], [event_key("acme", "3")], [])
        await log.close()

    asyncio.run(run())
    (seg,) = tmp_path.joinpath(*LANDING).glob("*.jsonl")
    assert seg.read_text() == '{"event_id":"1"}\n{"event_id":"3"}\n'
