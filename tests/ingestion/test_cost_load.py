"""FOCUS cost exports -> raw/cloud_costs: exact decimals, bad rows quarantined, idempotent."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.costs import load_costs
from ingestion.demo_data import generate

HEADER = (
    "BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,SkuId,ResourceId,"
    "ChargeCategory,BilledCost,BillingCurrency,ConsumedQuantity,ConsumedUnit,x_CostKind,x_UsagebillMeter\n"
)


def quiet(_: str) -> None:
    pass


def test_costs_exact_and_quarantined(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    (data / "costs").mkdir(parents=True)
    (data / "costs" / "focus-2026-10.csv").write_text(
        HEADER + "2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,P,GPU,gpu-a100-ms,r1,Usage,"
        "0.100000000001,USD,1000,ms,variable,gpu_ms\n"
        + "2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,P,GPU,gpu-a100-ms,r1,Usage,"
        "0.2,USD,2000,ms,variable,gpu_ms\n"
        + "2026-10-01,2026-10-01,2026-11-01,P,Support,support,s,Purchase,4500,USD,1,Month,fixed,\n"
        + "2026-10-01,2026-10-01,2026-10-02,P,GPU,x,r,Usage,1.5e3,USD,1,ms,variable,gpu_ms\n"  # exponent
        + "2026-10-01,2026-10-02,2026-10-01,P,GPU,x,r,Usage,1,USD,1,ms,variable,gpu_ms\n"  # end before start
        + "2026-10-01,2026-10-01,2026-10-02,P,GPU,x,r,Usage,1,USD,1,ms,variable,\n"  # variable without meter
        + "2026-10-01,2026-10-01,2026-10-02,P,GPU,x,r,Usage,1,usd,1,ms,fixed,\n"  # currency
    )
    report = load_costs(data, raw, progress=quiet)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 4)
    got = duckdb.sql(
        f"select cost_kind, usagebill_meter, sum(cast(billed_cost as decimal(38, 12))), min(charge_period_start) "
        f"from read_parquet('{raw}/cloud_costs/*.parquet') group by all order by all"
    ).fetchall()
    # 0.100000000001 + 0.2 = 0.300000000001 exactly (as binary floats this sum would not be exact)
    assert got == [
        ("fixed", None, Decimal("4500"), datetime(2026, 10, 1, tzinfo=UTC)),
        ("variable", "gpu_ms", Decimal("0.300000000001"), datetime(2026, 10, 1, tzinfo=UTC)),
    ]
    bad = duckdb.sql(
        f"select line_number, field, rule from read_parquet('{raw}/quarantine/*/*.parquet') order by 1"
    ).fetchall()
    assert bad == [
        (5, "billed_cost", "decimal"),
        (6, "charge_period_end", "after_start"),
        (7, "usagebill_meter", "variable_needs_meter"),
        (8, "billing_currency", "iso4217"),
    ]


def test_demo_costs_idempotent(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    generate(data, size="tiny", progress=quiet)
    first = load_costs(data, raw, progress=quiet)
    assert (first.files_written, first.rows_loaded, first.rows_quarantined) == (1, 21, 0)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (raw / "cloud_costs").iterdir()}
    second = load_costs(data, raw, progress=quiet)
    assert second.files_written == 0
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (raw / "cloud_costs").iterdir()}
    assert after == before
    # tiny GPU cost by hand: 167,522,457 a100-equivalent ms x 0.0087 / 1000 (see test_demo_data)
    assert duckdb.sql(
        f"select sum(cast(billed_cost as decimal(38, 12))) from read_parquet('{raw}/cloud_costs/*.parquet') "
        f"where usagebill_meter = 'gpu_ms'"
    ).fetchall() == [(Decimal("1457.4453759"),)]
