"""Load cloud cost exports (FOCUS 1.x subset, CSV) into raw/cloud_costs/*.parquet.

Input: `<data_dir>/costs/*.csv` (optionally .csv.gz). Headers may use FOCUS names
(BillingPeriodStart, ChargePeriodStart, ChargePeriodEnd, ProviderName, ServiceName, SkuId,
ResourceId, ChargeCategory, BilledCost, BillingCurrency, ConsumedQuantity, ConsumedUnit) with
usagebill's custom columns x_CostKind (fixed|variable) and x_UsagebillMeter (the meter the cost
serves; empty for shared cost), or the snake_case raw names (billed_cost, cost_kind, ...).

Output: `<raw>/cloud_costs/<file>.parquet` with the columns of docs/architecture.md
(raw/cloud_costs), amounts as exact decimal strings, times as UTC timestamps; rejected rows go
to `<raw>/quarantine/arrival_date=<file's mtime date>/costs-<file>.parquet` with their reason.
A file is rewritten only when its content changed (the output name holds its sha256), and
outputs of cost files that no longer exist are removed, so re-runs are idempotent.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.events import METER_RE, canonical_json
from ingestion.landing import QUARANTINE_SCHEMA, UTC_TS

__all__ = ["CLOUD_COSTS_SCHEMA", "CostLoadReport", "load_costs", "validate_cost_row"]

CLOUD_COSTS_SCHEMA = pa.schema(
    [
        ("billing_period_start", UTC_TS),
        ("charge_period_start", UTC_TS),
        ("charge_period_end", UTC_TS),
        ("provider_name", pa.string()),
        ("service_name", pa.string()),
        ("sku_id", pa.string()),
        ("resource_id", pa.string()),
        ("charge_category", pa.string()),
        ("billed_cost", pa.string()),
        ("billing_currency", pa.string()),
        ("consumed_quantity", pa.string()),
        ("consumed_unit", pa.string()),
        ("cost_kind", pa.string()),
        ("usagebill_meter", pa.string()),
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
    ]
)

# FOCUS column name -> raw column name
FOCUS_COLUMNS = {
    "BillingPeriodStart": "billing_period_start",
    "ChargePeriodStart": "charge_period_start",
    "ChargePeriodEnd": "charge_period_end",
    "ProviderName": "provider_name",
    "ServiceName": "service_name",
    "SkuId": "sku_id",
    "ResourceId": "resource_id",
    "ChargeCategory": "charge_category",
    "BilledCost": "billed_cost",
    "BillingCurrency": "billing_currency",
    "ConsumedQuantity": "consumed_quantity",
    "ConsumedUnit": "consumed_unit",
    "x_CostKind": "cost_kind",
    "x_UsagebillMeter": "usagebill_meter",
}
REQUIRED = ("charge_period_start", "charge_period_end", "billed_cost", "billing_currency", "cost_kind")
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
CURRENCY_RE = re.compile(r"[A-Z]{3}")
TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+\-][0-9]{2}:?[0-9]{2}))?"
)


@dataclass
class CostLoadReport:
    files_seen: int = 0
    files_written: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    output_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.files_seen} cost files, {self.rows_loaded:,} rows, {self.rows_quarantined:,} quarantined, "
            f"{self.files_written} files (re)written"
        )


def _timestamp(value: str, name: str) -> datetime | str:
    """A FOCUS datetime (UTC: Z, an offset, or a bare date meaning 00:00 UTC) or the reason it is refused."""
    if not TIMESTAMP_RE.fullmatch(value):
        return f"{name} {value!r} is not a date or an ISO 8601 date-time with an offset (like 2026-05-01T00:00:00Z)"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        return f"{name} {value!r} is not a real date/time ({exc})"
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _decimal(value: str, name: str, *, allow_negative: bool) -> str | tuple[str, str]:
    if not DECIMAL_RE.fullmatch(value):
        return ("decimal", f"{name} {value!r} is not a plain decimal number (like 12.3400)")
    amount = Decimal(value)
    if amount < 0 and not allow_negative:
        return ("non_negative", f"{name} {value} is negative")
    _, _, fraction = value.partition(".")
    if len(fraction) > 12 or len(value.lstrip("-").partition(".")[0]) > 26:
        return ("decimal_38_12", f"{name} {value} does not fit DECIMAL(38,12)")
    return value


def validate_cost_row(row: dict[str, str]) -> dict[str, Any] | tuple[str, str, str]:
    """Return the typed raw row, or (field, rule, reason)."""
    for name in REQUIRED:
        if not (row.get(name) or "").strip():
            return (name, "required", f"{name} is empty; every cost row needs it")
    out: dict[str, Any] = {}
    for name in ("billing_period_start", "charge_period_start", "charge_period_end"):
        value = (row.get(name) or "").strip()
        if not value:
            out[name] = None
            continue
        parsed = _timestamp(value, name)
        if isinstance(parsed, str):
            return (name, "timestamp", parsed)
        out[name] = parsed
    if out["charge_period_end"] <= out["charge_period_start"]:
        return (
            "charge_period_end",
            "after_start",
            f"charge period [{out['charge_period_start']}, {out['charge_period_end']}) is empty or reversed; "
            f"periods are half-open [start, end)",
        )
    if out["billing_period_start"] is None:
        start = out["charge_period_start"]
        out["billing_period_start"] = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    category = (row.get("charge_category") or "Usage").strip()
    if category not in CHARGE_CATEGORIES:
        return (
            "charge_category",
            "focus_charge_category",
            f"charge_category {category!r} is not one of {', '.join(sorted(CHARGE_CATEGORIES))}",
        )
    out["charge_category"] = category
    cost = _decimal(
        row["billed_cost"].strip(), "billed_cost", allow_negative=category in ("Credit", "Adjustment")
    )
    if isinstance(cost, tuple):
        return ("billed_cost", *cost)
    out["billed_cost"] = cost
    quantity = (row.get("consumed_quantity") or "").strip()
    if quantity:
        checked = _decimal(quantity, "consumed_quantity", allow_negative=False)
        if isinstance(checked, tuple):
            return ("consumed_quantity", *checked)
        quantity = checked
    out["consumed_quantity"] = quantity or None
    currency = row["billing_currency"].strip()
    if not CURRENCY_RE.fullmatch(currency):
        return (
            "billing_currency",
            "iso4217",
            f"billing_currency {currency!r} is not an ISO 4217 code like USD",
        )
    out["billing_currency"] = currency
    kind = row["cost_kind"].strip().lower()
    if kind not in ("fixed", "variable"):
        return ("cost_kind", "fixed_or_variable", f"cost_kind {kind!r} must be fixed or variable")
    out["cost_kind"] = kind
    meter = (row.get("usagebill_meter") or "").strip() or None
    if meter is not None and not METER_RE.fullmatch(meter):
        return ("usagebill_meter", "meter_id", f"usagebill_meter {meter!r} is not a meter id (like gpu_ms)")
    if kind == "variable" and meter is None:
        return (
            "usagebill_meter",
            "variable_needs_meter",
            "a variable cost must name the meter it serves (x_UsagebillMeter); shared costs are fixed",
        )
    out["usagebill_meter"] = meter
    for name in ("provider_name", "service_name", "sku_id", "resource_id", "consumed_unit"):
        out[name] = (row.get(name) or "").strip() or None
    return out


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    rows = list(reader)
    return (rows[0], rows[1:]) if rows else ([], [])


def load_costs(data_dir: Path, raw_dir: Path, *, progress: Callable[[str], None] = print) -> CostLoadReport:
    """Validate every <data_dir>/costs/*.csv into <raw_dir>/cloud_costs/, quarantining bad rows."""
    data_dir, raw_dir = Path(data_dir), Path(raw_dir)
    report = CostLoadReport()
    folder = data_dir / "costs"
    out_dir = raw_dir / "cloud_costs"
    files = sorted(list(folder.glob("*.csv")) + list(folder.glob("*.csv.gz"))) if folder.is_dir() else []
    wanted: set[str] = set()
    for path in files:
        report.files_seen += 1
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)
        out_name = f"{stem}-{sha[:16]}.parquet"
        wanted.add(out_name)
        source_file = path.relative_to(data_dir).as_posix()
        header, rows = _read_rows(path)
        names = [FOCUS_COLUMNS.get(h.strip(), h.strip()) for h in header]
        good: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        modified = datetime.fromtimestamp(path.stat().st_mtime_ns // 1000 / 1_000_000, tz=UTC)
        for index, cells in enumerate(rows, start=2):
            if not cells or all(not c for c in cells):
                continue
            if len(cells) != len(names):
                result: Any = (
                    "$",
                    "csv_columns",
                    f"line {index} has {len(cells)} cells, the header {len(names)}",
                )
                raw = canonical_json(cells)
            else:
                row = dict(zip(names, cells, strict=True))
                raw = canonical_json(dict(zip(header, cells, strict=True)))
                result = validate_cost_row(row)
            if isinstance(result, tuple):
                bad.append(
                    {
                        "source_file": source_file,
                        "line_number": index,
                        "raw_record": raw,
                        "field": result[0],
                        "rule": result[1],
                        "reason": f"{source_file} line {index}: {result[2]}",
                        "quarantined_at": modified,
                    }
                )
            else:
                good.append({**result, "source_file": source_file, "line_number": index})
        report.rows_loaded += len(good)
        report.rows_quarantined += len(bad)
        target = out_dir / out_name
        if not target.exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            pq.write_table(pa.Table.from_pylist(good, schema=CLOUD_COSTS_SCHEMA), tmp, compression="zstd")
            os.replace(tmp, target)
            report.files_written += 1
        report.output_files.append(f"cloud_costs/{out_name}")
        if bad:
            qdir = raw_dir / "quarantine" / f"arrival_date={modified.date().isoformat()}"
            qpath = qdir / f"costs-{out_name}"
            if not qpath.exists():
                qdir.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA), qpath, compression="zstd")
            progress(f"  {source_file}: {len(bad)} rows quarantined (first: {bad[0]['reason']})")
    if out_dir.is_dir():  # a cost file replaced by a corrected export: drop the outputs of the old content
        for stale in sorted(out_dir.glob("*.parquet")):
            if stale.name not in wanted:
                stale.unlink()
    return report
