"""Write the normalized catalog as Parquet under <raw dir>/catalog/ (deterministic bytes).

Every table is written, also when empty, with a fixed schema: decimals as strings holding exact
decimals (staging casts them to DECIMAL(38,12)), dates as date32, JSON as strings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from usagebill.catalog.gc_pause import without_cyclic_gc
from usagebill.catalog.parse import NormalizedCatalog

S, D, INT, B = pa.string(), pa.date32(), pa.int64(), pa.bool_()
PRICE_SCHEMA = [
    ("price_model", S),
    ("amount", S),
    ("unit_price", S),
    ("unit_size", S),
    ("block_rounding", S),
    ("package_size", S),
    ("package_price", S),
    ("included_units", S),
    ("rate", S),
    ("fixed_fee", S),
    ("free_events", INT),
    ("free_amount", S),
    ("min_per_event", S),
    ("max_per_event", S),
]

SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "meters": [
        ("meter_id", S),
        ("name", S),
        ("unit", S),
        ("aggregation", S),
        ("value_property", S),
        ("unit_multiplier", S),
        ("unique_property", S),
        ("filters_json", S),
        ("group_by_json", S),
        ("group_by_1", S),
        ("group_by_2", S),
        ("group_by_3", S),
    ],
    "meter_filters": [("meter_id", S), ("dimension", S), ("value", S)],
    "plans": [("plan_id", S), ("name", S), ("currency", S), ("billing_period", S)],
    "plan_versions": [("plan_id", S), ("plan_version", INT), ("effective_from", D), ("effective_to", D)],
    "plan_charges": [
        ("price_id", S),
        ("plan_id", S),
        ("plan_version", INT),
        ("charge_id", S),
        ("charge_name", S),
        ("charge_type", S),
        ("meter_id", S),
        ("billing_timing", S),
        ("usage_interval", S),
        ("dimension_name", S),
        ("dimension_value", S),
        *PRICE_SCHEMA,
    ],
    "charge_tiers": [
        ("price_id", S),
        ("tier", INT),
        ("lower_bound", S),
        ("up_to", S),
        ("unit_price", S),
        ("flat_fee", S),
    ],
    "customers": [
        ("tenant_id", S),
        ("customer_id", S),
        ("name", S),
        ("email", S),
        ("country", S),
        ("currency", S),
        ("customer_type", S),
        ("tax_id", S),
        ("tax_exempt", B),
        ("created_at", D),
        ("address_json", S),
    ],
    "subscriptions": [
        ("subscription_id", S),
        ("tenant_id", S),
        ("customer_id", S),
        ("plan_id", S),
        ("start_date", D),
        ("end_date", D),
        ("billing_anchor_day", INT),
        ("billing_period", S),
        ("trial_days", INT),
        ("trial_usage_amount", S),
        ("currency", S),
    ],
    "discounts": [
        ("discount_id", S),
        ("name", S),
        ("tenant_id", S),
        ("customer_id", S),
        ("subscription_id", S),
        ("plan_id", S),
        ("discount_type", S),
        ("percent", S),
        ("amount", S),
        ("applies_to", S),
        ("duration", S),
        ("duration_periods", INT),
        ("start_date", D),
    ],
    "credit_grants": [
        ("grant_id", S),
        ("tenant_id", S),
        ("customer_id", S),
        ("currency", S),
        ("amount", S),
        ("granted_at", D),
        ("expires_at", D),
        ("description", S),
    ],
    "commitments": [
        ("commitment_id", S),
        ("subscription_id", S),
        ("plan_id", S),
        ("amount", S),
        ("currency", S),
        ("effective_from", D),
        ("effective_to", D),
    ],
    "contract_prices": [
        ("price_id", S),
        ("contract_id", S),
        ("tenant_id", S),
        ("customer_id", S),
        ("plan_id", S),
        ("charge_id", S),
        ("dimension_value", S),
        ("effective_from", D),
        ("effective_to", D),
        *PRICE_SCHEMA,
    ],
    "currencies": [("currency", S), ("minor_unit", INT)],
}


def table_for(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    # from_pylist reads each schema field from the row dicts in C (a missing key is null)
    return pa.Table.from_pylist(rows, schema=pa.schema(SCHEMAS[name]))


@without_cyclic_gc
def write_catalog(catalog: NormalizedCatalog, raw_dir: Path | str) -> dict[str, int]:
    """Write every table to <raw_dir>/catalog/<table>.parquet; return row counts per table."""
    target = Path(raw_dir) / "catalog"
    target.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name in SCHEMAS:
        table = table_for(name, catalog.tables.get(name, []))
        tmp = target / f".{name}.parquet.tmp"
        pq.write_table(table, tmp, compression="snappy", store_schema=False)
        os.replace(tmp, target / f"{name}.parquet")
        counts[name] = table.num_rows
    return counts
