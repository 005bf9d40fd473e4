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


PLAIN_FOCUS_HEADER = (
    "BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,SkuId,ResourceId,"
    "ChargeCategory,ChargeFrequency,BilledCost,BillingCurrency,ConsumedQuantity,ConsumedUnit,Tags\n"
)


def test_plain_focus_export_with_tags_and_mapping_file(tmp_path: Path) -> None:
    """A FOCUS 1.x export with standard columns only (no x_ columns) is loaded, not quarantined:
    tags and cost_mapping.csv tie rows to meters, GPU types and customers; the cost kind comes from
    ChargeFrequency (FOCUS spec: Usage-Based = moves with usage)."""
    data, raw = tmp_path / "data", tmp_path / "raw"
    (data / "costs").mkdir(parents=True)
    p = "2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,Cloud"
    (data / "costs" / "focus-plain.csv").write_text(
        PLAIN_FOCUS_HEADER
        # line 2: attributed by the mapping file's sku rule (meter gpu_ms, gpu_type=a100)
        + f"{p},GPU,gpu-a100-ms,pool-a,Usage,Usage-Based,8.7,USD,1000000,ms,\n"
        # line 3: sku rule gpu-h100-ms, but the resource rule (2 match columns) is more specific
        + f"{p},GPU,gpu-h100-ms,pool-h-dedicated,Usage,Usage-Based,40,USD,2000000,ms,\n"
        # line 4: attributed by tags (CUR-style 'user:' prefix, any case)
        + f"{p},GPU,gpu-l4-ms,pool-l,Usage,Usage-Based,1.5,USD,500000,ms,"
        + '"{""user:UsageBill-Meter"": ""gpu_ms"", ""usagebill_dimension"": ""gpu_type=l4""}"\n'
        # line 5: nothing maps it: a recurring support purchase -> fixed shared cost
        + f"{p},Support,support-plan,acct,Purchase,Recurring,100,USD,1,Month,\n"
        # line 6: a usage-based row nobody maps -> variable shared cost (not lost, not quarantined)
        + f"{p},Network,egress,nat,Usage,Usage-Based,3.25,USD,10,GB,\n"
        # line 7: malformed tags -> quarantined with the reason
        + f"{p},GPU,gpu-a100-ms,pool-a,Usage,Usage-Based,1,USD,1,ms,not json\n"
    )
    (data / "costs" / "cost_mapping.csv").write_text(
        "match_sku_id,match_resource_id,match_service_name,meter_id,dimension,tenant_id,customer_id,cost_kind\n"
        "gpu-a100-ms,,,gpu_ms,gpu_type=a100,,,\n"
        "gpu-h100-ms,,,gpu_ms,gpu_type=h100,,,\n"
        "gpu-h100-ms,pool-h-dedicated,,gpu_ms,gpu_type=h100,acme,cus_big,fixed\n"
    )
    report = load_costs(data, raw, progress=quiet)
    assert (report.files_seen, report.rows_loaded, report.rows_quarantined) == (1, 5, 1)
    got = duckdb.sql(
        f"""select line_number, cost_kind, usagebill_meter, dimension_name, dimension_value, tenant_id,
            customer_id, attribution_source, billed_cost
        from read_parquet('{raw}/cloud_costs/*.parquet') order by line_number"""
    ).fetchall()
    assert got == [
        (2, "variable", "gpu_ms", "gpu_type", "a100", None, None, "mapping:2", "8.7"),
        (3, "fixed", "gpu_ms", "gpu_type", "h100", "acme", "cus_big", "mapping:4", "40"),
        (4, "variable", "gpu_ms", "gpu_type", "l4", None, None, "tags", "1.5"),
        (5, "fixed", None, None, None, None, None, "default", "100"),
        (6, "variable", None, None, None, None, None, "default", "3.25"),
    ]
    bad = duckdb.sql(
        f"select line_number, field, rule from read_parquet('{raw}/quarantine/*/*.parquet')"
    ).fetchall()
    assert bad == [(7, "tags", "tags_json")]


def test_bad_mapping_file_names_the_line(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    (data / "costs").mkdir(parents=True)
    (data / "costs" / "cost_mapping.csv").write_text(
        "match_sku_id,meter_id,dimension\ngpu-a100-ms,gpu_ms,gpu_type\n"
    )
    import pytest

    from ingestion.costs import CostMappingError

    with pytest.raises(
        CostMappingError, match=r"cost_mapping.csv line 2: dimension 'gpu_type' is not name=value"
    ):
        load_costs(data, raw, progress=quiet)


def test_aws_cur_2_parquet(tmp_path: Path) -> None:
    """AWS CUR 2.0 (Data Exports, Parquet): line items mapped to FOCUS columns; resource_tags map
    keys 'user_usagebill_meter' etc.; DOUBLE costs become their shortest decimal (0.1 stays 0.1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data, raw = tmp_path / "data", tmp_path / "raw"
    (data / "costs").mkdir(parents=True)
    start, end = datetime(2026, 10, 1), datetime(2026, 10, 1, 1)
    tags = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "bill_billing_period_start_date": pa.array([datetime(2026, 10, 1)] * 4, pa.timestamp("ms")),
            "line_item_usage_start_date": pa.array([start] * 4, pa.timestamp("ms")),
            "line_item_usage_end_date": pa.array([end, end, datetime(2026, 11, 1), end], pa.timestamp("ms")),
            "line_item_product_code": ["AmazonEC2", "AmazonEC2", "AWSSupportBusiness", "AmazonEC2"],
            "line_item_usage_type": ["BoxUsage:p5.48xlarge", "BoxUsage:g6.xlarge", "Dollar", "Odd"],
            "line_item_resource_id": ["i-1", "i-2", "", "i-3"],
            "line_item_line_item_type": ["Usage", "SavingsPlanCoveredUsage", "Fee", "SomethingNew"],
            "line_item_unblended_cost": [0.1, 2.25, 100.0, 1.0],
            "line_item_currency_code": ["USD"] * 4,
            "line_item_usage_amount": [3600000.0, 1e-05, 1.0, 1.0],
            "pricing_unit": ["ms", "ms", "Dollar", "Hrs"],
            "resource_tags": pa.array(
                [
                    [("user_usagebill_meter", "gpu_ms"), ("user_usagebill_dimension", "gpu_type=h100")],
                    [("user_usagebill_meter", "gpu_ms"), ("user_usagebill_customer", "cus_7")],
                    [],
                    [],
                ],
                tags,
            ),
        }
    )
    pq.write_table(table, data / "costs" / "cur2-2026-10.parquet")
    report = load_costs(data, raw, progress=quiet)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 1)
    got = duckdb.sql(
        f"""select provider_name, service_name, sku_id, charge_category, cost_kind, billed_cost, consumed_quantity,
            usagebill_meter, dimension_value, tenant_id, customer_id, charge_period_start
        from read_parquet('{raw}/cloud_costs/*.parquet') order by line_number"""
    ).fetchall()
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    assert got == [
        (
            "AWS",
            "AmazonEC2",
            "BoxUsage:p5.48xlarge",
            "Usage",
            "variable",
            "0.1",
            "3600000.0",
            "gpu_ms",
            "h100",
            None,
            None,
            t0,
        ),
        (
            "AWS",
            "AmazonEC2",
            "BoxUsage:g6.xlarge",
            "Usage",
            "variable",
            "2.25",
            "0.00001",
            "gpu_ms",
            None,
            "default",
            "cus_7",
            t0,
        ),
        (
            "AWS",
            "AWSSupportBusiness",
            "Dollar",
            "Purchase",
            "fixed",
            "100.0",
            "1.0",
            None,
            None,
            None,
            None,
            t0,
        ),
    ]
    bad = duckdb.sql(
        f"select line_number, field, rule, reason from read_parquet('{raw}/quarantine/*/*.parquet')"
    )
    assert [r[:3] for r in bad.fetchall()] == [(5, "charge_category", "focus_charge_category")]
