"""Load cloud cost exports into raw/cloud_costs/*.parquet (docs/analytics.md, "Cost input").

Inputs in `<data_dir>/costs/`:
- `*.csv` / `*.csv.gz`: a FOCUS 1.x export (https://focus.finops.org/focus-specification/).
  Standard columns only are enough: BillingPeriodStart, ChargePeriodStart, ChargePeriodEnd,
  ProviderName, ServiceName, SkuId, ResourceId, ChargeCategory, ChargeFrequency, BilledCost,
  BillingCurrency, ConsumedQuantity, ConsumedUnit, Tags (a JSON object). usagebill's optional
  extension columns x_CostKind, x_UsagebillMeter, x_UsagebillDimension, x_UsagebillCustomer
  override what is derived. Snake_case raw names (billed_cost, cost_kind, ...) are accepted too.
- `*.parquet`: an AWS CUR 2.0 export (Data Exports, table COST_AND_USAGE_REPORT,
  https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html), mapped to the
  FOCUS columns (CUR_COLUMNS, CUR_LINE_ITEM_TYPES); resource_tags is its tag map.
- `cost_mapping.csv` (optional): rules tying cost rows to a meter, a dimension and a customer
  by SKU, resource or service (COST_MAPPING_COLUMNS).

Attribution of a row, first found wins: the x_ extension columns, then the row's tags
(usagebill_meter, usagebill_dimension = "name=value", usagebill_customer, usagebill_tenant,
usagebill_cost_kind; a key matches case-insensitively with any "user:" / "user_" prefix), then the
most specific rule of cost_mapping.csv. cost_kind when nobody says: FOCUS ChargeFrequency
"Usage-Based" (or, without ChargeFrequency, ChargeCategory "Usage") is variable, anything else
(Recurring, One-Time purchases, support, ...) fixed. A row tied to no meter and no customer is
shared cost, allocated by the documented driver in the analytics marts.

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
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.events import METER_RE, TENANT_RE, canonical_json
from ingestion.landing import QUARANTINE_SCHEMA, arrow_schema

__all__ = [
    "CLOUD_COSTS_SCHEMA",
    "CostLoadReport",
    "CostMappingError",
    "load_costs",
    "read_cost_mapping",
    "validate_cost_row",
]

CLOUD_COSTS_SCHEMA = arrow_schema(
    "billing_period_start:timestamp charge_period_start:timestamp charge_period_end:timestamp provider_name "
    "service_name sku_id resource_id charge_category billed_cost billing_currency consumed_quantity "
    "consumed_unit cost_kind usagebill_meter dimension_name dimension_value tenant_id customer_id "
    "attribution_source source_file line_number:int64"
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
    "ChargeFrequency": "charge_frequency",
    "Tags": "tags",
    "x_CostKind": "cost_kind",
    "x_UsagebillMeter": "usagebill_meter",
    "x_UsagebillDimension": "usagebill_dimension",
    "x_UsagebillCustomer": "usagebill_customer",
    "x_UsagebillTenant": "usagebill_tenant",
}
# AWS CUR 2.0 column -> FOCUS raw column. SkuId: product_sku when the export has it, else the
# usage type (https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html).
CUR_COLUMNS = {
    "bill_billing_period_start_date": "billing_period_start",
    "line_item_usage_start_date": "charge_period_start",
    "line_item_usage_end_date": "charge_period_end",
    "line_item_product_code": "service_name",
    "line_item_usage_type": "sku_id",
    "product_sku": "sku_id",
    "line_item_resource_id": "resource_id",
    "line_item_line_item_type": "charge_category",
    "line_item_unblended_cost": "billed_cost",
    "line_item_currency_code": "billing_currency",
    "line_item_usage_amount": "consumed_quantity",
    "pricing_unit": "consumed_unit",
    "resource_tags": "tags",
}
# CUR line_item_line_item_type -> FOCUS ChargeCategory and ChargeFrequency, after AWS's own
# FOCUS mapping (https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-0-aws.html):
# usage lines are usage-based, fees and upfront/recurring commitment fees are purchases.
CUR_LINE_ITEM_TYPES = {
    "Usage": ("Usage", "Usage-Based"),
    "DiscountedUsage": ("Usage", "Usage-Based"),
    "SavingsPlanCoveredUsage": ("Usage", "Usage-Based"),
    "Tax": ("Tax", "Recurring"),
    "Fee": ("Purchase", "One-Time"),
    "RIFee": ("Purchase", "Recurring"),
    "SavingsPlanRecurringFee": ("Purchase", "Recurring"),
    "SavingsPlanUpfrontFee": ("Purchase", "One-Time"),
    "Credit": ("Credit", "One-Time"),
    "Refund": ("Credit", "One-Time"),
    "BundledDiscount": ("Credit", "Usage-Based"),
    "Discount": ("Credit", "Usage-Based"),
    "EdpDiscount": ("Credit", "Usage-Based"),
    "PrivateRateDiscount": ("Credit", "Usage-Based"),
    "SavingsPlanNegation": ("Credit", "Usage-Based"),
}
COST_MAPPING_FILE = "cost_mapping.csv"
# cost_mapping.csv: match_* columns select rows (blank = any; at least one must be set; the rule
# with the most matching columns wins, then the earlier line); the others say what the rows serve.
COST_MAPPING_COLUMNS = (
    "match_sku_id",
    "match_resource_id",
    "match_service_name",
    "meter_id",
    "dimension",
    "tenant_id",
    "customer_id",
    "cost_kind",
)
MAX_COST_FILE_BYTES = 512 * 1024 * 1024
MAX_COST_ROWS_PER_FILE = 5_000_000
MAX_MAPPING_RULES = 10_000
MAX_TAGS_CHARS = 64 * 1024
REQUIRED = ("charge_period_start", "charge_period_end", "billed_cost", "billing_currency")
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


def validate_cost_row(
    row: dict[str, Any], rules: Sequence[MappingRule] = ()
) -> dict[str, Any] | tuple[str, str, str]:
    """Return the typed raw row with its attribution (meter, dimension, customer, cost kind),
    or (field, rule, reason). `row` holds raw column names; `rules` come from cost_mapping.csv."""
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
    for name in ("provider_name", "service_name", "sku_id", "resource_id", "consumed_unit"):
        out[name] = (row.get(name) or "").strip() or None
    attributed = _attribute(row, out, rules)
    if isinstance(attributed, tuple):
        return attributed
    out.update(attributed)
    return out


def _attribute(
    row: dict[str, Any], typed: dict[str, Any], rules: Sequence[MappingRule]
) -> dict[str, Any] | tuple[str, str, str]:
    """Meter, dimension, tenant, customer and cost kind of a row: x_ columns, then tags, then the
    most specific mapping rule; cost kind by default from ChargeFrequency / ChargeCategory."""
    tags = _tags(row.get("tags"))
    if isinstance(tags, str):
        return ("tags", "tags_json", tags)
    rule = _matching_rule(typed, rules)
    sources: list[tuple[str, dict[str, str | None]]] = [
        (
            "columns",
            {
                "meter": row.get("usagebill_meter"),
                "dimension": row.get("usagebill_dimension"),
                "tenant": row.get("usagebill_tenant"),
                "customer": row.get("usagebill_customer"),
                "cost_kind": row.get("cost_kind"),
            },
        ),
        (
            "tags",
            {
                "meter": tags.get("usagebill_meter"),
                "dimension": tags.get("usagebill_dimension"),
                "tenant": tags.get("usagebill_tenant"),
                "customer": tags.get("usagebill_customer"),
                "cost_kind": tags.get("usagebill_cost_kind"),
            },
        ),
    ]
    if rule is not None:
        sources.append(
            (
                f"mapping:{rule.line}",
                {
                    "meter": rule.meter_id,
                    "dimension": rule.dimension,
                    "tenant": rule.tenant_id,
                    "customer": rule.customer_id,
                    "cost_kind": rule.cost_kind,
                },
            )
        )
    found: dict[str, tuple[str, str]] = {}
    for source, values in sources:
        for key, value in values.items():
            text = str(value).strip() if value is not None else ""
            if text and key not in found:
                found[key] = (text, source)
    used = sorted({source for _, source in found.values()}, key=[s for s, _ in sources].index)
    out: dict[str, Any] = {"attribution_source": "+".join(used) or "default"}
    kind_text, kind_source = found.get("cost_kind", ("", "default"))
    if kind_text:
        kind = kind_text.lower()
        if kind not in ("fixed", "variable"):
            return (
                "cost_kind",
                "fixed_or_variable",
                f"cost_kind {kind!r} ({kind_source}) must be fixed or variable",
            )
    else:
        frequency = (row.get("charge_frequency") or "").strip()
        if frequency:
            kind = "variable" if frequency == "Usage-Based" else "fixed"
        else:
            kind = "variable" if typed["charge_category"] == "Usage" else "fixed"
    out["cost_kind"] = kind
    meter = found.get("meter", (None, ""))[0]
    if meter is not None and not METER_RE.fullmatch(meter):
        return ("usagebill_meter", "meter_id", f"usagebill_meter {meter!r} is not a meter id (like gpu_ms)")
    customer = found.get("customer", (None, ""))[0]
    if customer is not None and not TENANT_RE.fullmatch(customer):
        return (
            "usagebill_customer",
            "customer_id",
            f"usagebill_customer {customer[:80]!r} is not a customer id (1-64 letters, digits, '_', '.', '-')",
        )
    if kind_source == "columns" and kind == "variable" and meter is None and customer is None:
        return (
            "usagebill_meter",
            "variable_needs_meter",
            "a variable cost must name the meter it serves (x_UsagebillMeter); shared costs are fixed",
        )
    out["usagebill_meter"] = meter
    dimension = found.get("dimension")
    out["dimension_name"] = out["dimension_value"] = None
    if dimension is not None:
        parsed = _dimension(dimension[0])
        if isinstance(parsed, str):
            return ("usagebill_dimension", "dimension", f"{parsed} ({dimension[1]})")
        if meter is None:
            return (
                "usagebill_dimension",
                "dimension_needs_meter",
                "a cost dimension needs the meter it belongs to",
            )
        out["dimension_name"], out["dimension_value"] = parsed
    tenant = found.get("tenant", (None, ""))[0]
    if tenant is not None and not TENANT_RE.fullmatch(tenant):
        return ("usagebill_tenant", "tenant_id", f"usagebill_tenant {tenant[:80]!r} is not a tenant id")
    out["customer_id"] = customer
    out["tenant_id"] = (tenant or "default") if customer is not None else tenant
    return out


class CostMappingError(ValueError):
    """cost_mapping.csv is unusable; the message names the file, line and what to fix."""


@dataclass(frozen=True)
class MappingRule:
    line: int
    match: tuple[tuple[str, str], ...]  # (raw column, value)
    meter_id: str | None
    dimension: str | None
    tenant_id: str | None
    customer_id: str | None
    cost_kind: str | None


def _dimension(text: str) -> tuple[str, str] | str:
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not METER_RE.fullmatch(name) or not value or len(value) > 128:
        return f"dimension {text[:80]!r} is not name=value (like gpu_type=h100)"
    return name, value


def _tags(value: Any) -> dict[str, str] | str:
    """FOCUS Tags (a JSON object) or a CUR 2.0 resource_tags map, keys normalized: lower case,
    any "user:" / "user_" prefix removed, other characters than letters and digits as '_'."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        if len(value) > MAX_TAGS_CHARS:
            return f"Tags is {len(value):,} characters, more than {MAX_TAGS_CHARS:,}"
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            return f"Tags is not a JSON object ({exc})"
        if not isinstance(parsed, dict):
            return "Tags is not a JSON object of key-value pairs"
        items = list(parsed.items())
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        items = list(value)  # pyarrow map: [(key, value), ...]
    out: dict[str, str] = {}
    for key, tag_value in items:
        norm = re.sub(r"[^a-z0-9]+", "_", str(key).lower())
        norm = norm.removeprefix("user_")
        if tag_value is not None and not isinstance(tag_value, (dict, list)):
            out[norm] = str(tag_value)
    return out


def _matching_rule(typed: dict[str, Any], rules: Sequence[MappingRule]) -> MappingRule | None:
    best: MappingRule | None = None
    for rule in rules:
        matches = all(typed.get(column) == wanted for column, wanted in rule.match)
        if matches and (best is None or len(rule.match) > len(best.match)):
            best = rule
    return best


def read_cost_mapping(path: Path) -> list[MappingRule]:
    """Parse cost_mapping.csv (COST_MAPPING_COLUMNS); raise CostMappingError naming the line."""
    if path.stat().st_size > 16 * 1024 * 1024:
        raise CostMappingError(f"{path}: larger than 16 MiB; a mapping holds rules, not cost rows")
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = sorted(set(header) - set(COST_MAPPING_COLUMNS))
    if unknown or not header:
        raise CostMappingError(
            f"{path}: unknown columns {unknown or '(no header)'}; the columns are {', '.join(COST_MAPPING_COLUMNS)}"
        )
    rules: list[MappingRule] = []
    for number, raw in enumerate(reader, start=2):
        cells = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        if len(rules) >= MAX_MAPPING_RULES:
            raise CostMappingError(f"{path}: more than {MAX_MAPPING_RULES:,} rules")
        match = tuple(
            (column.removeprefix("match_"), cells[column])
            for column in ("match_sku_id", "match_resource_id", "match_service_name")
            if cells.get(column)
        )
        where = f"{path.name} line {number}"
        if not match:
            raise CostMappingError(
                f"{where}: set at least one of match_sku_id, match_resource_id, match_service_name"
            )
        meter = cells.get("meter_id") or None
        if meter is not None and not METER_RE.fullmatch(meter):
            raise CostMappingError(f"{where}: meter_id {meter!r} is not a meter id (like gpu_ms)")
        dimension = cells.get("dimension") or None
        if dimension is not None and isinstance(_dimension(dimension), str):
            raise CostMappingError(f"{where}: {_dimension(dimension)}")
        kind = (cells.get("cost_kind") or "").lower() or None
        if kind not in (None, "fixed", "variable"):
            raise CostMappingError(f"{where}: cost_kind {kind!r} must be fixed, variable or empty")
        rules.append(
            MappingRule(
                number,
                match,
                meter,
                dimension,
                cells.get("tenant_id") or None,
                cells.get("customer_id") or None,
                kind,
            )
        )
    return rules


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, str]]:
    """(line number, row with raw names or the reason it is unreadable, raw record as JSON)."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(rows, [])
    names = [FOCUS_COLUMNS.get(h.strip(), h.strip()) for h in header]
    for index, cells in enumerate(rows, start=2):
        if index - 1 > MAX_COST_ROWS_PER_FILE:
            raise ValueError(
                f"{path.name}: more than {MAX_COST_ROWS_PER_FILE:,} rows; split the export by month"
            )
        if not cells or all(not c for c in cells):
            continue
        if len(cells) != len(names):
            yield (
                index,
                f"line {index} has {len(cells)} cells, the header {len(names)}",
                canonical_json(cells),
            )
        else:
            yield (
                index,
                dict(zip(names, cells, strict=True)),
                canonical_json(dict(zip(header, cells, strict=True))),
            )


def _cur_text(value: Any) -> Any:
    """A CUR 2.0 Parquet cell as the text the CSV path sees. Costs stored as DOUBLE become the
    shortest decimal that round-trips (repr), never a binary expansion; decimals stay exact."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):  # resource_tags map
        return value
    return str(value)


def _read_cur(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, str]]:
    """AWS CUR 2.0 Parquet rows mapped to raw FOCUS names (CUR_COLUMNS, CUR_LINE_ITEM_TYPES)."""
    parquet = pq.ParquetFile(path)
    if parquet.metadata.num_rows > MAX_COST_ROWS_PER_FILE:
        raise ValueError(
            f"{path.name}: {parquet.metadata.num_rows:,} rows, more than {MAX_COST_ROWS_PER_FILE:,}; "
            f"split the export by month"
        )
    columns = set(parquet.schema_arrow.names)
    missing = sorted(
        {"line_item_usage_start_date", "line_item_unblended_cost", "line_item_currency_code"} - columns
    )
    if missing:
        raise ValueError(f"{path.name}: not an AWS CUR 2.0 export (missing {', '.join(missing)})")
    wanted = [c for c in CUR_COLUMNS if c in columns]
    line = 1
    for batch in parquet.iter_batches(columns=wanted, batch_size=10_000):
        for record in batch.to_pylist():
            line += 1
            row: dict[str, Any] = {"provider_name": "AWS"}
            for column in wanted:
                target = CUR_COLUMNS[column]
                if column == "line_item_usage_type" and record.get("product_sku"):
                    continue  # product_sku is the SKU when present
                row[target] = _cur_text(record[column])
            item_type = str(row.get("charge_category") or "")
            category, frequency = CUR_LINE_ITEM_TYPES.get(item_type, (item_type, ""))
            row["charge_category"], row["charge_frequency"] = category, frequency
            raw = canonical_json({k: v if isinstance(v, str) else str(v) for k, v in record.items()})
            yield line, row, raw


def load_costs(data_dir: Path, raw_dir: Path, *, progress: Callable[[str], None] = print) -> CostLoadReport:
    """Validate every cost export in <data_dir>/costs/ (FOCUS CSV, CUR 2.0 Parquet) into
    <raw_dir>/cloud_costs/, quarantining bad rows; cost_mapping.csv ties rows to meters."""
    data_dir, raw_dir = Path(data_dir), Path(raw_dir)
    report = CostLoadReport()
    folder = data_dir / "costs"
    out_dir = raw_dir / "cloud_costs"
    files = (
        sorted(list(folder.glob("*.csv")) + list(folder.glob("*.csv.gz")) + list(folder.glob("*.parquet")))
        if folder.is_dir()
        else []
    )
    mapping_path = folder / COST_MAPPING_FILE
    files = [f for f in files if f.name != COST_MAPPING_FILE]
    rules = read_cost_mapping(mapping_path) if mapping_path.is_file() else []
    mapping_sha = hashlib.sha256(mapping_path.read_bytes()).hexdigest() if rules else ""
    wanted: set[str] = set()
    for path in files:
        report.files_seen += 1
        if path.stat().st_size > MAX_COST_FILE_BYTES:
            raise ValueError(
                f"{path}: {path.stat().st_size:,} bytes, more than {MAX_COST_FILE_BYTES:,}; split the export by month"
            )
        # the output name holds the content's and the mapping's hash: a new mapping re-attributes
        sha = hashlib.sha256(path.read_bytes() + mapping_sha.encode()).hexdigest()
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)
        out_name = f"{stem}-{sha[:16]}.parquet"
        wanted.add(out_name)
        source_file = path.relative_to(data_dir).as_posix()
        reader = _read_cur(path) if path.name.endswith(".parquet") else _read_csv(path)
        good: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        modified = datetime.fromtimestamp(path.stat().st_mtime_ns // 1000 / 1_000_000, tz=UTC)
        for index, row, raw in reader:
            result: Any = ("$", "csv_columns", row) if isinstance(row, str) else validate_cost_row(row, rules)
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
