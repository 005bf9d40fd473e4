"""What the benchmarks share: where the project and dbt are, and synthetic catalogs.

The catalogs (bench_catalog_import, bench_month_close): N customers and N subscriptions spread over the demo's plans (the gpu_cloud example: six plans
in USD, EUR and JPY), written beside the example's meters and plans, as YAML or as rows for the
bulk files (usagebill/catalog/bulk.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from usagebill.catalog import EXAMPLES_DIR
from usagebill.dbt_cli import find_dbt

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
DBT = find_dbt() or "dbt"  # the venv's dbt

# plan id, its currency, the country of the customers on it (usagebill/catalog/examples/gpu_cloud)
PLANS = [
    ("payg", "USD", "US"), ("starter", "USD", "US"), ("growth", "USD", "US"),
    ("payg_eur", "EUR", "DE"), ("starter_eur", "EUR", "FR"), ("payg_jpy", "JPY", "JP"),
]  # fmt: skip
CUSTOMER_COLUMNS = ["id", "name", "country", "currency", "customer_type", "created_at"]
SUBSCRIPTION_COLUMNS = ["id", "customer_id", "plan_id", "start_date", "billing_anchor_day"]


def catalog_rows(count: int) -> tuple[list[list[str]], list[list[str]]]:
    """`count` customers (CUSTOMER_COLUMNS) and one subscription each (SUBSCRIPTION_COLUMNS), as text."""
    customers, subscriptions = [], []
    for i in range(count):
        plan, currency, country = PLANS[i % len(PLANS)]
        customers.append([f"cus_{i}", f"Customer {i}", country, currency, "business", "2026-03-01"])
        subscriptions.append([f"sub_{i}", f"cus_{i}", plan, "2026-03-01", "1"])
    return customers, subscriptions


def example_base(folder: Path) -> Path:
    """`folder` with the gpu_cloud example's meters.yaml and plans.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("meters.yaml", "plans.yaml"):
        shutil.copyfile(EXAMPLES_DIR / "gpu_cloud" / name, folder / name)
    return folder


def write_yaml_items(path: Path, key: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A catalog YAML file: `key:` then one flow mapping per row (`- {column: value, ...}`)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{key}:\n")
        for row in rows:
            fh.write("  - {" + ", ".join(f"{c}: {v}" for c, v in zip(columns, row, strict=True)) + "}\n")


def write_yaml(folder: Path, customers: list[list[str]], subscriptions: list[list[str]]) -> None:
    write_yaml_items(folder / "customers.yaml", "customers", CUSTOMER_COLUMNS, customers)
    write_yaml_items(folder / "subscriptions.yaml", "subscriptions", SUBSCRIPTION_COLUMNS, subscriptions)
