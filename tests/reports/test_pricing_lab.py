"""The pricing lab re-rates real history through the production rating models.

History: the tiny dataset (ingestion/demo_data.py docstring), billed for October 2026 as of
2026-11-08 through `usagebill rate` (the production path, kept on disk as the "warehouse").
- Candidate `same`: the current plans.yaml unchanged -> every customer and month differs by exactly 0.
- Candidate `gpu_x2`: pay-as-you-go GPU at $0.02 instead of $0.01 per 1,000 ms. cus_e (payg, USD) used
  4,800,000 ms in October (48 events x 100,000 ms): billed 4,800 x 0.01 = 48.00, candidate
  4,800 x 0.02 = 96.00 -> difference +48.00 (+100 %, over the 10 % threshold). cus_b (starter),
  cus_c (payg_eur) and cus_d (payg_jpy) are on plans the candidate does not change -> 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest

from ingestion.demo_data import generate
from tests.warehouse import query
from usagebill.paths import PROJECT_ROOT
from usagebill.pricing_lab import PricingLabError, backtest, parse_month
from usagebill.rating import rate

pytestmark = pytest.mark.slow

FIXTURE = PROJECT_ROOT / "ingestion" / "fixtures" / "tiny_usage.jsonl"
AS_OF = date(2026, 11, 8)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    generate(root / "data", size="tiny", seed=42, progress=lambda m: None)
    catalog = root / "data" / "catalog"
    keep = root / "billed"
    rate(
        catalog,
        [FIXTURE],
        date(2026, 10, 1),
        date(2026, 11, 1),
        as_of=AS_OF,
        keep_dir=keep,
        progress=lambda m: None,
    )
    same = root / "candidates" / "same"
    same.mkdir(parents=True)
    (same / "plans.yaml").write_bytes((catalog / "plans.yaml").read_bytes())
    doubled = root / "candidates" / "gpu_x2"
    doubled.mkdir(parents=True)
    plans = (catalog / "plans.yaml").read_text()
    payg_gpu = "- id: payg\n  name: Pay as you go\n"
    assert plans.count("unit_price: '0.01'\n      unit_size: '1000'") >= 1 and payg_gpu in plans
    head, tail = plans.split(payg_gpu, 1)
    (doubled / "plans.yaml").write_text(
        head
        + payg_gpu
        + tail.replace(
            "unit_price: '0.01'\n      unit_size: '1000'", "unit_price: '0.02'\n      unit_size: '1000'", 1
        )
    )
    results = backtest(
        [same, doubled],
        date(2026, 10, 1),
        date(2026, 11, 1),
        as_of=AS_OF,
        warehouse=keep / "rate.duckdb",
        raw_dir=keep / "raw",
        catalog_dir=catalog,
        progress=lambda m: None,
    )
    return results, keep / "rate.duckdb"


def test_identical_candidate_differs_by_exactly_zero(history):
    results, warehouse = history
    rows = query(
        warehouse,
        "select customer_id, month_start, difference, billed_total from pricing_lab.fct_backtest_customer_months "
        "where candidate = 'same'",
    )
    assert {r[0] for r in rows} == {"cus_a", "cus_b", "cus_c", "cus_d", "cus_e"}
    assert all(r[2] == 0 for r in rows), rows
    assert all(figures["difference"] == 0 for figures in results["same"].values())


def test_changed_gpu_price_moves_only_payg_customers(history):
    results, warehouse = history
    usd = results["gpu_x2"]["USD"]["customers"]
    assert usd["cus_e"]["billed_total"] == Decimal("48.00")
    assert usd["cus_e"]["candidate_total"] == Decimal("96.00")
    assert usd["cus_e"]["difference"] == Decimal("48.00") and usd["cus_e"]["exceeds_threshold"]
    assert usd["cus_b"]["difference"] == 0
    assert results["gpu_x2"]["EUR"]["customers"]["cus_c"]["difference"] == 0
    assert results["gpu_x2"]["JPY"]["customers"]["cus_d"]["difference"] == 0
    summary = query(
        warehouse,
        "select customers_paying_more, customers_unchanged from pricing_lab.fct_backtest_summary "
        "where candidate = 'gpu_x2' and currency = 'USD'",
    )
    # cus_a (payg, 2,457 ms) and cus_e pay more; cus_b (starter) is unchanged.
    assert summary == [(2, 1)]


def test_cli_json_and_errors(history, tmp_path):
    assert parse_month("2026-05") == date(2026, 5, 1)
    with pytest.raises(PricingLabError, match="YYYY-MM"):
        parse_month("2026-13")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "pricing",
            "backtest",
            "--candidate",
            str(tmp_path),
            "--from",
            "2026-10",
            "--to",
            "2026-09",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "before --from" in done.stderr
    # The JSON document gives per currency and customer: billed, candidate, difference (exact strings).
    assert json.loads(json.dumps({"x": str(Decimal("48.00"))})) == {"x": "48.00"}
