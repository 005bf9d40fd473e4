"""Write measured usage events into the landing zone as sealed JSONL files.

Every source validates its events against the event contract (ingestion.events.validate_event),
writes the valid ones to ``DATA_DIR/landing/usage/<source>/arrival_date=YYYY-MM-DD/<name>.jsonl``
(written to a temporary ``.jsonl.open`` file, fsync'd, then renamed: the landing loader only ever sees
complete files) and the refused ones, with their reason, to ``DATA_DIR/quarantine/<source>-<name>.jsonl``.
The arrival date is the UTC day the measurement was taken for (the window start's day: the Dagster
partition day; the sample hour's day), not the wall clock, so the landing loader puts the file in
that day's raw partition and ``load_landing(..., arrival_dates=[day])`` (a backfill of that
partition) picks it up. File names are deterministic per measurement window, so a re-run rewrites
the same file with the same deterministic event ids: nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from ingestion.durable import fsync_dir
from ingestion.events import Rejection, canonical_json, validate_event

_ENC = msgspec.json.Encoder(decimal_format="number")


def deterministic_id(prefix: str, *parts: object) -> str:
    """A stable event id: ``<prefix>-`` + sha256 of the parts (unit-separated), 32 hex chars."""
    text = "\x1f".join(str(p) for p in parts)
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def utc_text(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("timestamp without time zone")
    text = ts.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def decimal_text(value: Decimal) -> str:
    """Plain decimal text (no exponent, no trailing fractional zeros)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class LandingResult:
    source: str
    path: Path | None
    events: int = 0
    quarantined: int = 0
    quarantine_path: Path | None = None
    rejections: list[Rejection] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "quarantined": self.quarantined,
            "path": str(self.path) if self.path else "",
            "quarantine_path": str(self.quarantine_path) if self.quarantine_path else "",
        }


def _atomic_write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".open")
    with open(tmp, "wb") as fh:
        fh.write(b"".join(lines))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_landing(
    data_dir: Path,
    source: str,
    name: str,
    events: Iterable[dict[str, Any] | Rejection],
    *,
    arrival_date: date,
    tenant_id: str | None = None,
    raw_records: Iterable[Any] | None = None,
) -> LandingResult:
    """Validate and land ``events`` (or pre-made Rejections) as
    ``landing/usage/<source>/arrival_date=<arrival_date>/<name>.jsonl``; ``arrival_date`` is the UTC
    day the measurement is for (the raw partition it belongs to)."""
    now = datetime.now(UTC)
    good: list[bytes] = []
    bad: list[bytes] = []
    result = LandingResult(source=source, path=None)
    raws = list(raw_records) if raw_records is not None else None
    for i, item in enumerate(events):
        outcome = (
            item
            if isinstance(item, Rejection)
            else validate_event(item, tenant_id=tenant_id, default_source=source)
        )
        if isinstance(outcome, Rejection):
            raw = raws[i] if raws is not None else item
            bad.append(
                _ENC.encode(
                    {
                        "quarantined_at": utc_text(now),
                        "source_file": f"{source}/{name}",
                        "line_number": i + 1,
                        "raw_record": raw if isinstance(raw, str) else _safe_json(raw),
                        "field": outcome.field,
                        "rule": outcome.rule,
                        "reason": outcome.reason,
                        "event_id": outcome.event_id,
                    }
                )
                + b"\n"
            )
            result.rejections.append(outcome)
            continue
        doc: dict[str, Any] = {
            "event_id": outcome.event_id,
            "customer_id": outcome.customer_id,
            "meter": outcome.meter,
            "timestamp": utc_text(outcome.event_ts),
            "properties": msgspec.Raw(outcome.properties_json.encode()),
            "dimensions": msgspec.Raw(outcome.dimensions_json.encode()),
            "source": outcome.source,
            "tenant_id": outcome.tenant_id,
        }
        if outcome.quantity is not None:
            doc["quantity"] = outcome.quantity
        good.append(_ENC.encode(doc) + b"\n")
    path = (
        data_dir / "landing" / "usage" / source / f"arrival_date={arrival_date.isoformat()}" / f"{name}.jsonl"
    )
    _atomic_write(path, good)
    result.path, result.events = path, len(good)
    if bad:
        qpath = data_dir / "quarantine" / f"{source}-{name.replace('/', '_')}.jsonl"
        _atomic_write(qpath, bad)
        result.quarantine_path, result.quarantined = qpath, len(bad)
    return result


def _safe_json(value: Any) -> str:
    try:
        return canonical_json(value)
    except (TypeError, ValueError, msgspec.EncodeError):
        return repr(value)


def write_window(
    data_dir: Path,
    source: str,
    prefix: str,
    window: tuple[datetime, datetime],
    events: Iterable[dict[str, Any] | Rejection],
    *,
    tenant_id: str | None = None,
    raw_records: Iterable[Any] | None = None,
) -> LandingResult:
    """Land the events pulled for one window [start, end) (write_landing): the file is named
    ``<prefix>__<start>_<end>`` (UTC, basic ISO 8601) and goes to the partition of the start's UTC day."""
    start, end = window
    name = f"{prefix}__{start.strftime('%Y%m%dT%H%M%SZ')}_{end.strftime('%Y%m%dT%H%M%SZ')}"
    arrival_date = start.astimezone(UTC).date()
    return write_landing(
        data_dir,
        source,
        name,
        events,
        arrival_date=arrival_date,
        tenant_id=tenant_id,
        raw_records=raw_records,
    )
