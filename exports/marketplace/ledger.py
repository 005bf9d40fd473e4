"""The exactly-once reporting ledger: ledger.marketplace_reports in the DuckDB warehouse.

Append-only. One row per state change of a report key (marketplace, tenant, customer, dimension, hour):
planned -> acknowledged | duplicate | failed | carried, or planned -> sent -> ... The current state of a
key is its row with the highest `seq`.
- `planned`: written before the call; the request may not have left (a crash during the call leaves it).
- `sent`: the request left but no definite answer came back (HTTP 5xx / timeout past the retry budget).
- `failed`: a definite refusal (401/403, a whole-batch 4xx, 429 past the retry budget, a per-record
  rejection): NOT counted, so its quantity goes with the next reported hour (never counted as delivered).
- `unconfirmed`: sent, no answer, window closed: counted (the marketplace most likely has it), to be
  confirmed by the marketplace reconciliation against the billing feed.
`counted` says whether the row's quantity counts as reported (planned/sent/acknowledged/duplicate/
unconfirmed: yes; carried and failed: no, so the quantity flows into the next reported hour).
`sent_quantity`: on a Duplicate whose marketplace quantity differs from ours, what we sent (the row's
`quantity` is then the marketplace's quantity). dbt reads it as source `ledger` (marketplace.fct_marketplace_reporting_ledger).

Tenants (issue 11): customer ids are unique per tenant only, so every key carries `tenant_id`: the same
customer id in two tenants, same dimension and hour, is two keys, reported and counted separately.
Migration: a ledger written before `tenant_id` existed gets the column on first open, every existing row
set to the default tenant ('default', usagebill.tenants.DEFAULT_TENANT), which is the tenant every
customer had before tenants existed (docs/marketplaces.md section 6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from usagebill.paths import warehouse_path
from usagebill.tenants import DEFAULT_TENANT

TABLE = "ledger.marketplace_reports"
DONE_STATES = ("acknowledged", "duplicate", "carried", "failed", "unconfirmed")
PENDING_STATES = ("planned", "sent")
# states whose quantity counts as reported; carried and failed do not (their usage goes with the next hour)
COUNTED_STATES = ("planned", "sent", "acknowledged", "duplicate", "unconfirmed")

_DEC = pa.decimal128(38, 12)
_TS = pa.timestamp("us")  # naive UTC, like every timestamp in the warehouse

DDL = f"""
create schema if not exists ledger;
create table if not exists {TABLE} (
    seq bigint not null,
    run_id varchar not null,
    recorded_at timestamp not null,
    marketplace varchar not null,
    customer_id varchar not null,
    marketplace_customer varchar not null,
    offering_id varchar not null,
    dimension varchar not null,
    hour_start timestamp not null,
    state varchar not null,
    quantity decimal(38, 12) not null,
    cumulative_units decimal(38, 12) not null,
    carried_remainder decimal(38, 12) not null,
    unit_price decimal(38, 12) not null,
    currency varchar not null,
    counted boolean not null,
    carried_to_hour timestamp,
    window_start timestamp,
    window_end timestamp,
    request_key varchar,
    metering_record_id varchar,
    detail varchar,
    sent_quantity decimal(38, 12)
);
alter table {TABLE} add column if not exists sent_quantity decimal(38, 12);
alter table {TABLE} add column if not exists tenant_id varchar default '{DEFAULT_TENANT}';
"""


@dataclass(frozen=True)
class ReportRow:
    marketplace: str
    customer_id: str
    marketplace_customer: str
    offering_id: str
    dimension: str
    hour_start: datetime
    state: str
    quantity: Decimal
    cumulative_units: Decimal
    carried_remainder: Decimal
    unit_price: Decimal
    currency: str
    counted: bool
    carried_to_hour: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    request_key: str | None = None
    metering_record_id: str | None = None
    detail: str | None = None
    sent_quantity: Decimal | None = None
    tenant_id: str = DEFAULT_TENANT
    seq: int = 0
    run_id: str = ""
    recorded_at: datetime | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str, str, str, datetime]:
        """(marketplace, tenant, customer, dimension, hour): reported exactly once."""
        return (self.marketplace, self.tenant_id, self.customer_id, self.dimension, self.hour_start)

    @property
    def customer_ref(self) -> tuple[str, str]:
        return (self.tenant_id, self.customer_id)

    def next(self, state: str, **changes: object) -> ReportRow:
        return replace(self, state=state, **changes)  # type: ignore[arg-type]


_COLUMNS = [f.name for f in fields(ReportRow)]
_SCHEMA = pa.schema(
    [
        ("marketplace", pa.string()),
        ("customer_id", pa.string()),
        ("marketplace_customer", pa.string()),
        ("offering_id", pa.string()),
        ("dimension", pa.string()),
        ("hour_start", _TS),
        ("state", pa.string()),
        ("quantity", _DEC),
        ("cumulative_units", _DEC),
        ("carried_remainder", _DEC),
        ("unit_price", _DEC),
        ("currency", pa.string()),
        ("counted", pa.bool_()),
        ("carried_to_hour", _TS),
        ("window_start", _TS),
        ("window_end", _TS),
        ("request_key", pa.string()),
        ("metering_record_id", pa.string()),
        ("detail", pa.string()),
        ("sent_quantity", _DEC),
        ("tenant_id", pa.string()),
        ("seq", pa.int64()),
        ("run_id", pa.string()),
        ("recorded_at", _TS),
    ]
)


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1e-12"))


class Ledger:
    """Reads and appends ledger rows. Opens the warehouse only for the duration of each call, so dbt
    and other writers can use the file between calls."""

    def __init__(self, path: Path | None = None, run_id: str = "") -> None:
        self.path = Path(path) if path else warehouse_path()
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.path)) as con:
            con.execute(DDL)
            result = con.execute(f"select coalesce(max(seq), 0) from {TABLE}").fetchall()
        self._seq = int(result[0][0])

    def append(self, rows: Iterable[ReportRow]) -> list[ReportRow]:
        rows = list(rows)
        if not rows:
            return []
        now = datetime.now(UTC).replace(tzinfo=None)
        stamped = []
        for row in rows:
            self._seq += 1
            stamped.append(replace(row, seq=self._seq, run_id=self.run_id or row.run_id, recorded_at=now))
        columns: dict[str, list[object]] = {name: [] for name in _SCHEMA.names}
        for row in stamped:
            for name in _SCHEMA.names:
                value = getattr(row, name)
                if isinstance(value, datetime):
                    value = _naive(value)
                elif isinstance(value, Decimal):
                    value = _q(value)
                columns[name].append(value)
        table = pa.table(columns, schema=_SCHEMA)  # noqa: F841  (read by DuckDB by name)
        names = ", ".join(_SCHEMA.names)
        with duckdb.connect(str(self.path)) as con:
            con.register("incoming_rows", table)
            con.execute(f"insert into {TABLE} ({names}) select {names} from incoming_rows")
        return stamped

    def current(self, marketplace: str) -> dict[tuple[str, str, str, str, datetime], ReportRow]:
        """The latest row of every key of one marketplace."""
        sql = f"""
            select {", ".join(_COLUMNS)} from (
                select *, row_number() over (
                    partition by marketplace, tenant_id, customer_id, dimension, hour_start order by seq desc
                ) as rn
                from {TABLE} where marketplace = ?
            ) where rn = 1
        """
        with duckdb.connect(str(self.path)) as con:
            records = con.execute(sql, [marketplace]).fetchall()
        return {row.key: row for row in _rows(records)}

    def history(self, marketplace: str | None = None) -> list[ReportRow]:
        where = "where marketplace = ?" if marketplace else ""
        with duckdb.connect(str(self.path)) as con:
            records = con.execute(
                f"select {', '.join(_COLUMNS)} from {TABLE} {where} order by seq",
                [marketplace] if marketplace else [],
            ).fetchall()
        return _rows(records)


def _rows(records: Iterable[tuple[object, ...]]) -> list[ReportRow]:
    """Ledger records (selected as _COLUMNS) as rows, times UTC-aware."""
    rows = []
    for record in records:
        values = dict(zip(_COLUMNS, record, strict=True))
        for name in ("hour_start", "carried_to_hour", "window_start", "window_end", "recorded_at"):
            values[name] = _aware(values[name])  # type: ignore[arg-type]
        rows.append(ReportRow(**values))  # type: ignore[arg-type]
    return rows
