"""Great Expectations suite over landed usage batches (raw/usage_events, by arrival day).

`run_usage_suite(raw_dir, catalog_dir, days, config)` validates the rows that landed on `days`
with an ephemeral GE context and a pandas datasource, and returns one `CheckOutcome` per check:

| check | blocking | what |
|---|---|---|
| schema | yes | the Parquet columns are exactly the raw contract's, in order |
| no_null_keys | yes | tenant_id, event_id, customer_id, meter, event_ts, source_file, arrived_at, arrival_date |
| non_negative_quantity | yes | quantity is null or a plain non-negative decimal string (checked as text, exactly) |
| known_customers | yes | every customer_id is in the catalog's customers.yaml |
| known_meters | no | every meter is in the catalog's meters.yaml |
| timestamps_in_range | no | no event later than its arrival + tolerance, none older than max age before its arrival day |
| volume | no | each day's row count within [trailing mean / factor, trailing mean x factor] |

Great Expectations is imported inside `run_usage_suite` (it takes ~5 s to import).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

KEY_COLUMNS = (
    "tenant_id",
    "event_id",
    "customer_id",
    "meter",
    "event_ts",
    "source_file",
    "arrived_at",
    "arrival_date",
)
DECIMAL_TEXT = r"^[0-9]+(?:\.[0-9]{1,12})?$"
BLOCKING = ("schema", "no_null_keys", "non_negative_quantity", "known_customers")
NON_BLOCKING = ("known_meters", "timestamps_in_range", "volume")


@dataclass(frozen=True)
class QualityConfig:
    max_event_age_days: int = 35  # older events still load (late events are kept) but are flagged
    future_tolerance_minutes: int = 60
    volume_factor: float = 3.0
    trailing_days: int = 7

    @classmethod
    def from_env(cls) -> QualityConfig:
        """USAGEBILL_DQ_MAX_EVENT_AGE_DAYS, USAGEBILL_DQ_FUTURE_TOLERANCE_MINUTES, USAGEBILL_DQ_VOLUME_FACTOR,
        USAGEBILL_DQ_TRAILING_DAYS."""
        env = os.environ
        return cls(
            max_event_age_days=int(env.get("USAGEBILL_DQ_MAX_EVENT_AGE_DAYS", cls.max_event_age_days)),
            future_tolerance_minutes=int(
                env.get("USAGEBILL_DQ_FUTURE_TOLERANCE_MINUTES", cls.future_tolerance_minutes)
            ),
            volume_factor=float(env.get("USAGEBILL_DQ_VOLUME_FACTOR", cls.volume_factor)),
            trailing_days=int(env.get("USAGEBILL_DQ_TRAILING_DAYS", cls.trailing_days)),
        )


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _day_files(raw_dir: Path, day: date) -> list[Path]:
    return sorted((Path(raw_dir) / "usage_events" / f"arrival_date={day.isoformat()}").glob("*.parquet"))


def _read_batch(raw_dir: Path, days: list[date]) -> tuple[Any, list[tuple[str, list[str]]]]:
    """The rows that landed on `days` as a pandas DataFrame, and the files whose columns break the contract."""
    from ingestion.landing import USAGE_EVENTS_SCHEMA

    expected = list(USAGE_EVENTS_SCHEMA.names)
    tables, bad_files = [], []
    for day in days:
        for path in _day_files(raw_dir, day):
            table = pq.read_table(path)
            if table.schema.names != expected:
                bad_files.append((path.relative_to(raw_dir).as_posix(), table.schema.names))
            tables.append(table)
    if not tables:
        return USAGE_EVENTS_SCHEMA.empty_table().to_pandas(), bad_files
    return pa.concat_tables(tables, promote_options="permissive").to_pandas(), bad_files


def _row_count(raw_dir: Path, day: date) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in _day_files(raw_dir, day))


def catalog_ids(catalog_dir: Path, file_name: str, key: str) -> list[str] | None:
    path = Path(catalog_dir) / file_name
    if not path.exists():
        return None
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return sorted(
        str(item["id"]) for item in document.get(key) or [] if isinstance(item, dict) and "id" in item
    )


def _ephemeral_context() -> Any:
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # pragma: no cover - cosmetic only
        pass
    return context


def _validate(context: Any, name: str, frame: Any, expectations: list[Any]) -> list[Any]:
    import great_expectations as gx

    asset = context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe(f"{name}_batch").get_batch(
        batch_parameters={"dataframe": frame}
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
    return list(batch.validate(suite, result_format="SUMMARY").results)


def _unexpected(results: list[Any], check: str) -> tuple[bool, int, list[Any]]:
    mine = [r for r in results if (r.expectation_config.meta or {}).get("check") == check]
    passed = all(r.success for r in mine)
    count = sum(int(r.result.get("unexpected_count") or 0) for r in mine)
    examples: list[Any] = []
    for r in mine:
        for value in r.result.get("partial_unexpected_list") or []:
            text = str(value)
            if text not in examples:
                examples.append(text)
    return passed, count, examples[:10]


def run_usage_suite(
    raw_dir: Path, catalog_dir: Path, days: list[date], config: QualityConfig | None = None
) -> list[CheckOutcome]:
    """Validate the usage rows that landed on `days`; one outcome per check (see the module docstring)."""
    import great_expectations as gx
    import pandas as pd

    from ingestion.landing import USAGE_EVENTS_SCHEMA

    config = config or QualityConfig()
    ex = gx.expectations
    frame, bad_files = _read_batch(raw_dir, days)
    stored_columns = list(frame.columns)
    first, last = min(days), max(days)
    window = f"arrival days {first}..{last}" if first != last else f"arrival day {first}"
    rows = len(frame)

    customers = catalog_ids(catalog_dir, "customers.yaml", "customers")
    meters = catalog_ids(catalog_dir, "meters.yaml", "meters")
    # derived columns for the time checks (whole minutes / whole days, computed in pandas)
    checked = frame.copy()
    if rows:
        checked["lead_minutes"] = (checked["event_ts"] - checked["arrived_at"]) // pd.Timedelta(minutes=1)
        arrival_start = pd.to_datetime(checked["arrival_date"]).dt.tz_localize("UTC")
        checked["age_days"] = (arrival_start - checked["event_ts"]) // pd.Timedelta(days=1)
    else:
        checked["lead_minutes"] = pd.Series([], dtype="int64")
        checked["age_days"] = pd.Series([], dtype="int64")

    expectations: list[Any] = [
        ex.ExpectTableColumnsToMatchOrderedList(
            column_list=[*USAGE_EVENTS_SCHEMA.names, "lead_minutes", "age_days"], meta={"check": "schema"}
        ),
    ]
    present = set(stored_columns)
    expectations += [
        ex.ExpectColumnValuesToNotBeNull(column=c, meta={"check": "no_null_keys"})
        for c in KEY_COLUMNS
        if c in present
    ]
    if "quantity" in present:
        expectations += [
            ex.ExpectColumnValuesToNotMatchRegex(
                column="quantity", regex=r"^\s*-", meta={"check": "non_negative_quantity"}
            ),
            ex.ExpectColumnValuesToMatchRegex(
                column="quantity", regex=DECIMAL_TEXT, meta={"check": "non_negative_quantity"}
            ),
        ]
    if customers is not None and "customer_id" in present:
        expectations.append(
            ex.ExpectColumnValuesToBeInSet(
                column="customer_id", value_set=customers, meta={"check": "known_customers"}
            )
        )
    if meters is not None and "meter" in present:
        expectations.append(
            ex.ExpectColumnValuesToBeInSet(column="meter", value_set=meters, meta={"check": "known_meters"})
        )
    expectations += [
        ex.ExpectColumnValuesToBeBetween(
            column="lead_minutes",
            max_value=config.future_tolerance_minutes,
            meta={"check": "timestamps_in_range"},
        ),
        ex.ExpectColumnValuesToBeBetween(
            column="age_days", max_value=config.max_event_age_days, meta={"check": "timestamps_in_range"}
        ),
    ]
    # volume: each day's rows against the mean of the trailing days that had data
    volume_rows = []
    for day in sorted(set(days)):
        trailing = [_row_count(raw_dir, day - timedelta(days=i)) for i in range(1, config.trailing_days + 1)]
        trailing = [n for n in trailing if n > 0]
        mean = sum(trailing) / len(trailing) if trailing else None
        count = _row_count(raw_dir, day)
        ratio = (count / mean) if mean else None
        volume_rows.append(
            {"arrival_date": day.isoformat(), "rows": count, "trailing_mean": mean, "ratio": ratio}
        )
    volume = pd.DataFrame(volume_rows, columns=["arrival_date", "rows", "trailing_mean", "ratio"])

    context = _ephemeral_context()
    results = _validate(context, "raw_usage_events", checked, expectations)
    volume_results = _validate(
        context,
        "raw_usage_volume",
        volume,
        [
            ex.ExpectColumnValuesToBeBetween(
                column="ratio",
                min_value=1 / config.volume_factor,
                max_value=config.volume_factor,
                meta={"check": "volume"},
            )
        ],
    )

    outcomes: list[CheckOutcome] = []

    def add(name: str, passed: bool, description: str, **metadata: Any) -> None:
        outcomes.append(CheckOutcome(name, passed, name in BLOCKING, description, {"rows": rows, **metadata}))

    def expect(
        name: str, passed: str, failed: Callable[[int, list[Any]], str], examples: bool = True
    ) -> None:
        """The outcome of the expectations tagged `name`: `passed`, or `failed(count, examples)`."""
        ok, count, found = _unexpected(results, name)
        metadata: dict[str, Any] = {"unexpected": count, **({"examples": found} if examples else {})}
        add(name, ok, passed if ok else failed(count, found), **metadata)

    ok, _, _ = _unexpected(results, "schema")
    expected = list(USAGE_EVENTS_SCHEMA.names)
    schema_ok = ok and not bad_files
    add(
        "schema",
        schema_ok,
        f"{window}: columns match the raw contract"
        if schema_ok
        else f"{window}: {len(bad_files)} raw/usage_events files break the raw contract's columns "
        f"(first: {bad_files[0][0] if bad_files else '?'} has {bad_files[0][1] if bad_files else stored_columns}; "
        f"expected {expected}). Delete those files and reload them with ingestion/landing.py. Billing is blocked.",
        bad_files=[name for name, _ in bad_files],
    )
    expect(
        "no_null_keys",
        f"{window}: no nulls in {', '.join(KEY_COLUMNS)}",
        lambda count, _: (
            f"{window}: {count} null values in key columns. Rows without keys cannot be billed: find "
            f"the writer of these raw files (source_file), fix it, delete the files and reload. Billing is blocked."
        ),
        examples=False,
    )
    expect(
        "non_negative_quantity",
        f"{window}: every quantity is null or a non-negative decimal",
        lambda count, examples: (
            f"{window}: {count} quantities are negative or not plain decimals (e.g. {examples}). "
            f"Usage is never negative: send corrections as adjustments; fix the writer of these raw files and reload. "
            f"Billing is blocked."
        ),
    )
    if customers is None:
        add(
            "known_customers",
            False,
            f"{window}: no customers.yaml in {catalog_dir}: write the catalog (or run `usagebill demo-data`) so usage "
            f"can be attributed. Billing is blocked.",
        )
    else:
        expect(
            "known_customers",
            f"{window}: every customer_id is in customers.yaml ({len(customers)} customers)",
            lambda count, examples: (
                f"{window}: {count} rows name customers that are not in "
                f"{Path(catalog_dir) / 'customers.yaml'} (e.g. {examples}). Add them to the catalog (or fix the sender's "
                f"customer_id), then re-run this check. Billing is blocked so that no usage is billed to nobody."
            ),
        )
    if meters is None:
        add(
            "known_meters",
            False,
            f"{window}: no meters.yaml in {catalog_dir}: write the pricing catalog's meters",
        )
    else:
        expect(
            "known_meters",
            f"{window}: every meter is in meters.yaml",
            lambda count, examples: (
                f"{window}: {count} rows use meters not in meters.yaml (e.g. {examples}); they "
                f"are kept but not billed. Add the meter to the catalog or fix the sender."
            ),
        )
    expect(
        "timestamps_in_range",
        f"{window}: event times within {config.max_event_age_days} days before arrival and at most "
        f"{config.future_tolerance_minutes} min after",
        lambda count, _: (
            f"{window}: {count} events are more than {config.future_tolerance_minutes} min after their "
            f"arrival or more than {config.max_event_age_days} days older than it. Check the sender's clock/time zone; "
            f"late events are kept and billed as adjustments (USAGEBILL_DQ_MAX_EVENT_AGE_DAYS sets the age limit)."
        ),
        examples=False,
    )
    ok, _, _ = _unexpected(volume_results, "volume")
    anomalies = [r for r in volume_rows if r["ratio"] is not None and not (
        1 / config.volume_factor <= r["ratio"] <= config.volume_factor)]  # fmt: skip
    add(
        "volume",
        ok,
        f"{window}: daily volume within x{config.volume_factor} of the trailing {config.trailing_days}-day mean"
        if ok
        else f"{window}: unusual volume on {[r['arrival_date'] for r in anomalies]} (rows vs trailing mean: "
        f"{[(r['rows'], round(r['trailing_mean'] or 0)) for r in anomalies]}). Check for missing or duplicated "
        f"landing files before invoicing (USAGEBILL_DQ_VOLUME_FACTOR sets the factor).",
        daily=volume_rows,
    )
    return outcomes
