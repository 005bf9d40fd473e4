"""Load landing files into the raw layer (`usagebill load`): validate, quarantine, write Parquet once.

Input: CSV, JSON lines and Parquet files (optionally .gz for CSV/JSON lines) under
`<data_dir>/landing/usage/` (recursively) or an S3 bucket/prefix (ingestion/s3_drops.py). Files
ending `.open` or `.tmp` are segments still being written (the collector's landing log) and are
ignored, as are hidden files.

Output (docs/architecture.md, "Raw layer"):
- `<raw>/usage_events/arrival_date=YYYY-MM-DD/<file>-<hash>.parquet`: the valid rows of one file;
- `<raw>/quarantine/arrival_date=YYYY-MM-DD/<file>-<hash>.parquet`: its rejected rows, with
  source_file, line_number, raw_record, field, rule, reason, quarantined_at;
- `<raw>/_manifest/usage_files.parquet`: one row per (source_file, sha256) ever seen, so a file is
  loaded once. A file whose content changed under a name already loaded is an error: it is not
  reloaded, one quarantine row (rule file_changed) records it and the report lists it.

arrival_date (the day the file landed) = the `arrival_date=YYYY-MM-DD` segment of the file's
path when there is one (the demo generator and the S3 drop layout use it), else the UTC date of
the file's modification time (S3: LastModified). arrived_at = the file's modification time (UTC),
or the record's own `arrived_at` (the collector's landing log writes one per line).
quarantined_at = arrived_at of the file: no wall-clock value enters the outputs, so a re-run
writes byte-identical files.

The collector's rejected events (`<data_dir>/quarantine/collector-YYYY-MM-DD.jsonl`, one file per
UTC day, appended while that day lasts) are loaded into `<raw>/quarantine/arrival_date=YYYY-MM-DD/`
too, once each through the same manifest, as soon as their day is over (a file of the current UTC
day is still being written and is left for a later run). Each line keeps the raw_record, field,
rule, reason and quarantined_at the collector recorded; source_file is the quarantine file
(`quarantine/collector-YYYY-MM-DD.jsonl`) and line_number its line, where the tenant, endpoint and
event_id of the rejection stay readable.

The collector's sealed segments (`<data_dir>/landing/usage/collector/*.jsonl`) are never left
behind: a segment whose arrival day is before the days a run asks for and that was never loaded
(e.g. one a crash left open, sealed at the restart with the crash day's date) is loaded by that run,
under the run's first arrival day. Once loaded, a segment is moved to
`<data_dir>/archive/usage/collector/YYYY-MM-DD/` (the day of its creation stamp), so the landing
folder, the collector's lag metric and its restart time stay bounded as history grows.

Duplicated event ids are kept here (raw keeps everything that was valid); the usage journal
(dbt) deduplicates by (tenant_id, event_id), first arrival wins.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gzip
import hashlib
import io
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.events import Rejection, ValidEvent, canonical_json, loads, validate_event

__all__ = [
    "LandingFile",
    "LoadReport",
    "MANIFEST_SCHEMA",
    "QUARANTINE_SCHEMA",
    "USAGE_EVENTS_SCHEMA",
    "collector_quarantine_files",
    "ingest_files",
    "landing_files",
    "load_landing",
    "read_manifest",
]

IGNORED_SUFFIXES = (".open", ".tmp")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
ARRIVAL_SEGMENT_RE = re.compile(r"(?:^|/)arrival_date=(\d{4}-\d{2}-\d{2})(?:/|$)")
COLLECTOR_QUARANTINE_RE = re.compile(r"collector-(\d{4}-\d{2}-\d{2})\.jsonl")
EVENTS = "events"  # LandingFile.kind: a file of usage events
COLLECTOR_QUARANTINE = "collector_quarantine"  # LandingFile.kind: the collector's rejected events
COLLECTOR_SEGMENTS = "landing/usage/collector/"  # the collector's landing log (sealed *.jsonl)
BATCH_ROWS = 100_000
RAW_RECORD_LIMIT = 10_000  # characters of a rejected record kept in quarantine

UTC_TS = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "date": pa.date32(), "timestamp": UTC_TS}


def arrow_schema(columns: str) -> pa.Schema:
    """A raw table's Parquet schema from its columns "name:type ..." in order (types: ARROW_TYPES,
    timestamps are microseconds UTC; a name without a type is a string)."""
    fields = [column.partition(":") for column in columns.split()]
    return pa.schema([(name, ARROW_TYPES[kind or "string"]) for name, _, kind in fields])


USAGE_EVENTS_SCHEMA = arrow_schema(
    "tenant_id event_id customer_id meter event_ts:timestamp quantity properties_json dimensions_json source "
    "source_file arrived_at:timestamp arrival_date:date"
)
QUARANTINE_SCHEMA = arrow_schema(
    "source_file line_number:int64 raw_record field rule reason quarantined_at:timestamp"
)
# status: loaded | file_changed | unsupported
MANIFEST_SCHEMA = arrow_schema(
    "source_file size_bytes:int64 sha256 etag arrival_date:date arrived_at:timestamp status "
    "rows_loaded:int64 rows_quarantined:int64 output_file quarantine_file"
)


@dataclass
class LandingFile:
    """One landed file: where it came from, when it landed, and how to read its bytes."""

    source_file: str  # stable name: path relative to the data dir, or s3://bucket/key
    size: int
    arrived_at: datetime  # aware UTC
    arrival_date: date
    open: Callable[[], contextlib.AbstractContextManager[BinaryIO]]
    etag: str | None = None
    kind: str = EVENTS  # EVENTS or COLLECTOR_QUARANTINE


@dataclass
class LoadReport:
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped: int = 0  # already in the manifest with the same content
    files_changed: list[str] = field(default_factory=list)  # changed content under a loaded name
    files_unsupported: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    output_files: list[str] = field(default_factory=list)  # relative to raw_dir
    by_arrival_date: dict[date, dict[str, int]] = field(default_factory=dict)

    def count(self, day: date, key: str, n: int) -> None:
        bucket = self.by_arrival_date.setdefault(day, {"files": 0, "rows_loaded": 0, "rows_quarantined": 0})
        bucket[key] += n

    def merge(self, other: LoadReport) -> None:
        self.files_seen += other.files_seen
        self.files_loaded += other.files_loaded
        self.files_skipped += other.files_skipped
        self.files_changed += other.files_changed
        self.files_unsupported += other.files_unsupported
        self.rows_loaded += other.rows_loaded
        self.rows_quarantined += other.rows_quarantined
        self.output_files += other.output_files
        for day, counts in other.by_arrival_date.items():
            for key, n in counts.items():
                self.count(day, key, n)

    def summary(self) -> str:
        text = (
            f"{self.files_loaded} files loaded ({self.rows_loaded:,} rows, {self.rows_quarantined:,} quarantined), "
            f"{self.files_skipped} already loaded, {self.files_seen} seen"
        )
        if self.files_changed:
            text += f"; {len(self.files_changed)} CHANGED after loading (quarantined, not reloaded)"
        if self.files_unsupported:
            text += f"; {len(self.files_unsupported)} of unsupported format (quarantined)"
        return text


# --------------------------------------------------------------------------- discovery


def arrival_date_of(name: str, modified: datetime) -> date:
    """The landing day: the path's `arrival_date=YYYY-MM-DD` segment, else the UTC date of `modified`."""
    match = ARRIVAL_SEGMENT_RE.search(name)
    if match:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            pass
    return modified.astimezone(UTC).date()


def _is_ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") or base.endswith(IGNORED_SUFFIXES)


def landing_files(data_dir: Path, *, arrival_dates: Iterable[date] | None = None) -> list[LandingFile]:
    """The files under <data_dir>/landing/usage/, sorted by name, optionally only some arrival days."""
    data_dir = Path(data_dir)
    root = data_dir / "landing" / "usage"
    wanted = set(arrival_dates) if arrival_dates is not None else None
    first_wanted = min(wanted) if wanted else None
    files: list[LandingFile] = []
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(data_dir).as_posix()
        if _is_ignored(name):
            continue
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime_ns // 1000 / 1_000_000, tz=UTC)
        day = arrival_date_of(name, modified)
        if wanted is not None and day not in wanted:
            if first_wanted is None or day > first_wanted or not name.startswith(COLLECTOR_SEGMENTS):
                continue
            # a collector segment of an earlier day still in the landing folder was never loaded
            # (loaded ones are archived): this run loads it, as arrived on its first day
            day = first_wanted
        files.append(LandingFile(name, stat.st_size, modified, day, lambda p=path: open(p, "rb")))  # noqa: SIM115
    return files


def collector_quarantine_files(
    data_dir: Path, *, arrival_dates: Iterable[date] | None = None, now: datetime | None = None
) -> list[LandingFile]:
    """The collector's quarantine files <data_dir>/quarantine/collector-YYYY-MM-DD.jsonl whose UTC day
    is over (before the day of `now`, default the current time), sorted by name; arrival date = the
    file name's day. Today's file is still being appended to, so it waits for a later run."""
    data_dir = Path(data_dir)
    root = data_dir / "quarantine"
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    wanted = set(arrival_dates) if arrival_dates is not None else None
    files: list[LandingFile] = []
    if not root.is_dir():
        return files
    for path in sorted(root.iterdir()):
        match = COLLECTOR_QUARANTINE_RE.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if day >= today or (wanted is not None and day not in wanted):
            continue
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime_ns // 1000 / 1_000_000, tz=UTC)
        files.append(
            LandingFile(
                path.relative_to(data_dir).as_posix(),
                stat.st_size,
                modified,
                day,
                lambda p=path: open(p, "rb"),  # noqa: SIM115
                kind=COLLECTOR_QUARANTINE,
            )
        )
    return files


# --------------------------------------------------------------------------- manifest


def _manifest_path(raw_dir: Path) -> Path:
    return Path(raw_dir) / "_manifest" / "usage_files.parquet"


def read_manifest(raw_dir: Path) -> list[dict[str, Any]]:
    path = _manifest_path(raw_dir)
    if not path.exists():
        return []
    return pq.read_table(path).to_pylist()


def _write_parquet_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _write_manifest(raw_dir: Path, rows: list[dict[str, Any]]) -> None:
    rows = sorted(rows, key=lambda r: (r["source_file"], r["sha256"]))
    _write_parquet_atomic(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), _manifest_path(raw_dir))


@contextlib.contextmanager
def _manifest_lock(raw_dir: Path) -> Iterator[None]:
    """One loader at a time per raw dir (Dagster may run several partitions at once)."""
    lock_path = Path(raw_dir) / "_manifest" / ".lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- readers


@dataclass
class _Record:
    line_number: int
    raw: str  # the record as landed (text)
    value: Any = None  # decoded object, or None when `error` is set
    error: Rejection | None = None


def _text_stream(handle: BinaryIO, gz: bool) -> BinaryIO:
    return gzip.GzipFile(fileobj=handle) if gz else handle  # type: ignore[return-value]


def _read_jsonl(handle: BinaryIO) -> Iterator[_Record]:
    for number, line in enumerate(handle, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        text = stripped.decode("utf-8", errors="replace")
        try:
            value = loads(stripped)
        except (ValueError, msgspec.DecodeError) as exc:
            yield _Record(
                number,
                text,
                error=Rejection(
                    "$", "json", f"line {number} is not valid JSON ({exc}); write one JSON object per line"
                ),
            )
            continue
        yield _Record(number, text, value)


_CSV_JSON_COLUMNS = ("properties", "dimensions")


def _read_csv(handle: BinaryIO) -> Iterator[_Record]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    start_line = reader.line_num + 1
    for cells in reader:
        number = start_line
        start_line = reader.line_num + 1
        if not cells or all(not c for c in cells):
            continue
        raw = canonical_json(dict(zip(header, cells, strict=False)) if len(cells) <= len(header) else cells)
        if len(cells) != len(header):
            yield _Record(
                number,
                raw,
                error=Rejection(
                    "$",
                    "csv_columns",
                    f"line {number} has {len(cells)} cells, the header has {len(header)}; quote cells that "
                    f"contain commas",
                ),
            )
            continue
        record: dict[str, Any] = {}
        error: Rejection | None = None
        for name, cell in zip(header, cells, strict=True):
            if cell == "":
                continue
            if name in _CSV_JSON_COLUMNS:
                try:
                    record[name] = loads(cell)
                except (ValueError, msgspec.DecodeError):
                    error = Rejection(
                        name,
                        "json",
                        f"the {name} cell is not a JSON object: {cell[:60]!r}; "
                        f'write it like {{"gpu_type": "a100"}}',
                    )
                    break
            else:
                record[name] = cell
        if error is not None:
            yield _Record(number, raw, error=error)
        else:
            yield _Record(number, raw, record)


def _parquet_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()  # no offset: the validator says so
        text = value.astimezone(UTC).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value


def _jsonable(value: Any) -> Any:
    """A Parquet cell as JSON for raw_record: floats and times as text (exactly as read)."""
    if isinstance(value, (float, datetime, date)):
        return value.isoformat() if not isinstance(value, float) else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _read_parquet(handle: BinaryIO) -> Iterator[_Record]:
    parquet = pq.ParquetFile(handle)
    number = 0
    for batch in parquet.iter_batches(batch_size=50_000):
        for row in batch.to_pylist():
            number += 1
            record: dict[str, Any] = {}
            error: Rejection | None = None
            for name, value in row.items():
                if value is None:
                    continue
                if name in _CSV_JSON_COLUMNS and isinstance(value, str):
                    try:
                        value = loads(value)
                    except (ValueError, msgspec.DecodeError):
                        error = Rejection(
                            name, "json", f"the {name} column is not a JSON object: {value[:60]!r}"
                        )
                        break
                elif name in _CSV_JSON_COLUMNS and isinstance(value, list):  # parquet MAP -> list of pairs
                    value = dict(value)
                record[name] = _parquet_value(value)
            try:
                raw = canonical_json({k: _jsonable(v) for k, v in row.items() if v is not None})
            except (TypeError, ValueError, msgspec.EncodeError):
                raw = repr(row)
            yield _Record(number, raw, error=error) if error else _Record(number, raw, record)


def _records(name: str, handle: BinaryIO) -> Iterator[_Record] | None:
    lower = name.lower()
    gz = lower.endswith(".gz")
    if lower.endswith(JSONL_SUFFIXES):
        return _read_jsonl(_text_stream(handle, gz))
    if lower.endswith(CSV_SUFFIXES):
        return _read_csv(_text_stream(handle, gz))
    if lower.endswith(PARQUET_SUFFIXES):
        return _read_parquet(handle)
    return None


# --------------------------------------------------------------------------- one file


def _output_name(source_file: str, sha256: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", source_file.rsplit("/", 1)[-1])[:80]
    digest = hashlib.sha256(f"{source_file}\x00{sha256}".encode()).hexdigest()[:16]
    return f"{base}-{digest}.parquet"


def _sha256(landing_file: LandingFile) -> str:
    digest = hashlib.sha256()
    with landing_file.open() as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_arrived_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


class _Columns:
    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.data: dict[str, list[Any]] = {name: [] for name in schema.names}
        self.rows = 0

    def add(self, values: tuple[Any, ...]) -> None:
        for column, value in zip(self.data.values(), values, strict=True):
            column.append(value)
        self.rows += 1

    def take(self) -> pa.Table:
        table = pa.table(
            {n: pa.array(v, type=self.schema.field(n).type) for n, v in self.data.items()}, schema=self.schema
        )
        self.data = {name: [] for name in self.schema.names}
        self.rows = 0
        return table


class _PartWriter:
    """Writes one output Parquet file in batches, atomically (tmp file renamed at close)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.columns = _Columns(schema)
        self.writer: pq.ParquetWriter | None = None
        self.total = 0

    def add(self, values: tuple[Any, ...]) -> None:
        self.columns.add(values)
        self.total += 1
        if self.columns.rows >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.columns.rows == 0:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(
                self.path.with_name(self.path.name + ".tmp"), self.schema, compression="zstd"
            )
        self.writer.write_table(self.columns.take())

    def close(self) -> bool:
        self._flush()
        if self.writer is None:
            return False
        self.writer.close()
        os.replace(self.path.with_name(self.path.name + ".tmp"), self.path)
        return True

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path.with_name(self.path.name + ".tmp"))


def _file_rejection(source_file: str, rule: str, reason: str, arrived: datetime) -> tuple[Any, ...]:
    """The quarantine row of a whole file (line 0, field "$file")."""
    return (source_file, 0, "", "$file", rule, reason, arrived)


def _manifest_row(
    landing_file: LandingFile,
    sha256: str,
    status: str,
    rows: tuple[int, int],
    output_file: str | None,
    quarantine_file: str | None,
) -> dict[str, Any]:
    """The file's manifest row (MANIFEST_SCHEMA); `rows` = (loaded, quarantined)."""
    return {
        "source_file": landing_file.source_file,
        "size_bytes": landing_file.size,
        "sha256": sha256,
        "etag": landing_file.etag,
        "arrival_date": landing_file.arrival_date,
        "arrived_at": landing_file.arrived_at,
        "status": status,
        "rows_loaded": rows[0],
        "rows_quarantined": rows[1],
        "output_file": output_file,
        "quarantine_file": quarantine_file,
    }


def _ingest_one(landing_file: LandingFile, sha256: str, raw_dir: Path, default_source: str) -> dict[str, Any]:
    """Validate one file and write its valid and rejected rows; return its manifest row."""
    day = landing_file.arrival_date
    partition = f"arrival_date={day.isoformat()}"
    name = _output_name(landing_file.source_file, sha256)
    out_rel = f"usage_events/{partition}/{name}"
    quarantine_rel = f"quarantine/{partition}/{name}"
    events = _PartWriter(raw_dir / out_rel, USAGE_EVENTS_SCHEMA)
    quarantine = _PartWriter(raw_dir / quarantine_rel, QUARANTINE_SCHEMA)
    file_arrived = landing_file.arrived_at
    # an event may be as late as the end of its landing day (files are often written at day end)
    now = max(file_arrived, datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1))
    source_file = landing_file.source_file
    status = "loaded"
    try:
        with landing_file.open() as handle:
            records = _records(source_file, handle)
            if records is None:
                status = "unsupported"
                reason = (
                    f"{source_file}: unsupported file type; land .jsonl, .ndjson, .json, .csv (optionally "
                    f".gz) or .parquet files"
                )
                quarantine.add(_file_rejection(source_file, "file_format", reason, file_arrived))
            else:
                for record in records:
                    result: ValidEvent | Rejection | None = record.error
                    arrived_at = file_arrived
                    if result is None:
                        value = record.value
                        if isinstance(value, dict) and "arrived_at" in value:
                            value = dict(value)
                            arrived_at = _parse_arrived_at(value.pop("arrived_at")) or file_arrived
                        result = validate_event(value, now=now, default_source=default_source)
                    if isinstance(result, Rejection):
                        raw = record.raw[:RAW_RECORD_LIMIT]
                        quarantine.add(
                            (
                                source_file,
                                record.line_number,
                                raw,
                                result.field,
                                result.rule,
                                result.reason,
                                file_arrived,
                            )
                        )
                    else:
                        events.add((*result, source_file, arrived_at, day))
    except Exception as exc:
        events.abort()
        quarantine.abort()
        # an unreadable file (corrupt Parquet, bad gzip, not UTF-8 CSV): quarantine it whole
        quarantine = _PartWriter(raw_dir / quarantine_rel, QUARANTINE_SCHEMA)
        events = _PartWriter(raw_dir / out_rel, USAGE_EVENTS_SCHEMA)
        status = "unreadable"
        reason = (
            f"{source_file} could not be read ({type(exc).__name__}: {exc}); fix or replace it under a "
            f"new file name"
        )
        quarantine.add(_file_rejection(source_file, "readable", reason, file_arrived))
    wrote_events = events.close()
    wrote_quarantine = quarantine.close()
    return _manifest_row(
        landing_file,
        sha256,
        status,
        (events.total, quarantine.total),
        out_rel if wrote_events else None,
        quarantine_rel if wrote_quarantine else None,
    )


_COLLECTOR_TEXT_FIELDS = ("raw_record", "field", "rule", "reason")


def _collector_quarantine_row(
    source_file: str, number: int, line: bytes, file_arrived: datetime
) -> tuple[Any, ...]:
    """One raw quarantine row from one line of the collector's quarantine file, kept as recorded."""
    text = line.decode("utf-8", errors="replace")
    raw = text[:RAW_RECORD_LIMIT]
    try:
        doc = loads(line)
    except (ValueError, msgspec.DecodeError) as exc:
        reason = (
            f"line {number} of {source_file} is not valid JSON ({exc}), e.g. a write torn by a crash; "
            f"the line is kept here as it was found"
        )
        return (source_file, number, raw, "$", "json", reason, file_arrived)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in _COLLECTOR_TEXT_FIELDS):
        reason = (
            f"line {number} of {source_file} is not a collector quarantine record (it needs the text "
            f"fields {', '.join(_COLLECTOR_TEXT_FIELDS)}); the line is kept here as it was found"
        )
        return (source_file, number, raw, "$", "collector_record", reason, file_arrived)
    record = doc["raw_record"]
    return (
        source_file,
        number,
        record[:RAW_RECORD_LIMIT],
        doc["field"],
        doc["rule"],
        doc["reason"],
        _parse_arrived_at(doc.get("quarantined_at")) or file_arrived,
    )


def _ingest_collector_quarantine(landing_file: LandingFile, sha256: str, raw_dir: Path) -> dict[str, Any]:
    """Copy one collector quarantine file into raw/quarantine (line by line); return its manifest row."""
    day = landing_file.arrival_date
    quarantine_rel = (
        f"quarantine/arrival_date={day.isoformat()}/{_output_name(landing_file.source_file, sha256)}"
    )
    source_file = landing_file.source_file
    quarantine = _PartWriter(raw_dir / quarantine_rel, QUARANTINE_SCHEMA)
    status = "loaded"
    try:
        with landing_file.open() as handle:
            for number, line in enumerate(handle, start=1):
                stripped = line.strip()
                if stripped:
                    quarantine.add(
                        _collector_quarantine_row(source_file, number, stripped, landing_file.arrived_at)
                    )
    except Exception as exc:
        quarantine.abort()
        quarantine = _PartWriter(raw_dir / quarantine_rel, QUARANTINE_SCHEMA)
        status = "unreadable"
        reason = (
            f"{source_file} could not be read ({type(exc).__name__}: {exc}); check the file's permissions"
        )
        quarantine.add(_file_rejection(source_file, "readable", reason, landing_file.arrived_at))
    wrote = quarantine.close()
    return _manifest_row(
        landing_file, sha256, status, (0, quarantine.total), None, quarantine_rel if wrote else None
    )


def _changed_file(
    landing_file: LandingFile, sha256: str, previous: dict[str, Any], raw_dir: Path
) -> dict[str, Any]:
    day = landing_file.arrival_date
    quarantine_rel = (
        f"quarantine/arrival_date={day.isoformat()}/changed-{_output_name(landing_file.source_file, sha256)}"
    )
    reason = (
        f"{landing_file.source_file} was loaded before ({previous['size_bytes']} bytes, sha256 {previous['sha256'][:16]}..) "
        f"and now has different content ({landing_file.size} bytes, sha256 {sha256[:16]}..); landed files are "
        f"immutable: the earlier load is kept and the new content is NOT loaded. Land corrected data under a new "
        f"file name (new event ids only add, the same event ids are deduplicated)"
    )
    writer = _PartWriter(raw_dir / quarantine_rel, QUARANTINE_SCHEMA)
    writer.add(_file_rejection(landing_file.source_file, "file_changed", reason, landing_file.arrived_at))
    writer.close()
    return _manifest_row(landing_file, sha256, "file_changed", (0, 1), None, quarantine_rel)


# --------------------------------------------------------------------------- drivers


def ingest_files(
    files: Iterable[LandingFile],
    raw_dir: Path,
    *,
    default_source: str = "file",
    progress: Callable[[str], None] = print,
) -> LoadReport:
    """Load landed files once each (manifest), writing raw/usage_events and raw/quarantine."""
    raw_dir = Path(raw_dir)
    report = LoadReport()
    with _manifest_lock(raw_dir):
        manifest = read_manifest(raw_dir)
        by_name: dict[str, list[dict[str, Any]]] = {}
        for row in manifest:
            by_name.setdefault(row["source_file"], []).append(row)
        started = time.monotonic()
        dirty = False
        for landing_file in files:
            report.files_seen += 1
            known = by_name.get(landing_file.source_file, [])
            if landing_file.etag and any(
                r["etag"] == landing_file.etag and r["size_bytes"] == landing_file.size for r in known
            ):
                report.files_skipped += 1
                continue
            sha = _sha256(landing_file)
            same = [r for r in known if r["sha256"] == sha]
            if same and all(
                (r["output_file"] is None or (raw_dir / r["output_file"]).exists())
                and (r["quarantine_file"] is None or (raw_dir / r["quarantine_file"]).exists())
                for r in same
            ):
                report.files_skipped += 1
                continue
            loaded_before = [r for r in known if r["status"] == "loaded" and r["sha256"] != sha]
            if loaded_before and not same:
                row = _changed_file(landing_file, sha, loaded_before[0], raw_dir)
                report.files_changed.append(landing_file.source_file)
                progress(
                    f"ERROR: {row['quarantine_file']}: {landing_file.source_file} changed after it was loaded "
                    f"(kept in quarantine, not reloaded)"
                )
            else:
                row = (
                    _ingest_collector_quarantine(landing_file, sha, raw_dir)
                    if landing_file.kind == COLLECTOR_QUARANTINE
                    else _ingest_one(landing_file, sha, raw_dir, default_source)
                )
                if row["status"] == "loaded":
                    report.files_loaded += 1
                else:
                    report.files_unsupported.append(landing_file.source_file)
            manifest = [
                r for r in manifest if not (r["source_file"] == row["source_file"] and r["sha256"] == sha)
            ]
            manifest.append(row)
            by_name[row["source_file"]] = [r for r in known if r["sha256"] != sha] + [row]
            dirty = True
            report.rows_loaded += row["rows_loaded"]
            report.rows_quarantined += row["rows_quarantined"]
            report.count(row["arrival_date"], "files", 1)
            report.count(row["arrival_date"], "rows_loaded", row["rows_loaded"])
            report.count(row["arrival_date"], "rows_quarantined", row["rows_quarantined"])
            report.output_files += [f for f in (row["output_file"], row["quarantine_file"]) if f]
            if report.files_loaded % 50 == 0 and report.files_loaded:
                _write_manifest(raw_dir, manifest)  # checkpoint: a crash re-loads at most 50 files
                dirty = False
                rate = report.rows_loaded / max(time.monotonic() - started, 1e-9)
                progress(
                    f"  {report.files_loaded} files, {report.rows_loaded:,} rows loaded ({rate:,.0f} rows/s)"
                )
        if dirty or (manifest and not _manifest_path(raw_dir).exists()):
            _write_manifest(raw_dir, manifest)
    return report


def load_landing(
    data_dir: Path,
    raw_dir: Path,
    *,
    arrival_dates: list[date] | None = None,
    progress: Callable[[str], None] = print,
) -> LoadReport:
    """Load every not-yet-loaded file under <data_dir>/landing/usage/ and the collector's quarantine
    files of past days (<data_dir>/quarantine/collector-YYYY-MM-DD.jsonl), optionally only some
    arrival days."""
    files = landing_files(Path(data_dir), arrival_dates=arrival_dates)
    files += collector_quarantine_files(Path(data_dir), arrival_dates=arrival_dates)
    report = ingest_files(files, Path(raw_dir), default_source="file", progress=progress)
    archived = archive_loaded_segments(Path(data_dir), Path(raw_dir))
    if archived:
        progress(f"  archived {archived} loaded collector segment(s) to {Path(data_dir) / 'archive'}")
    return report


def archive_loaded_segments(data_dir: Path, raw_dir: Path) -> int:
    """Move the collector segments the manifest records as loaded (same name and size: sealed
    segments never change) out of the landing folder into archive/usage/collector/YYYY-MM-DD/;
    return how many moved. The collector finds them there to rebuild a damaged dedup index file."""
    from ingestion.collector.landing_log import archive_path

    folder = data_dir / COLLECTOR_SEGMENTS
    if not folder.is_dir():
        return 0
    loaded = {
        (r["source_file"], r["size_bytes"])
        for r in read_manifest(raw_dir)
        if r["status"] == "loaded" and str(r["source_file"]).startswith(COLLECTOR_SEGMENTS)
    }
    moved = 0
    for path in sorted(folder.glob("*.jsonl")):
        name = path.relative_to(data_dir).as_posix()
        if (name, path.stat().st_size) not in loaded:
            continue
        target = archive_path(data_dir, path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved += 1
    return moved
