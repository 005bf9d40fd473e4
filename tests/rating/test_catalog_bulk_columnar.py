"""Column-wise validation of bulk customers and subscriptions (usagebill/catalog/columnar.py).

The reference is the per-row path (each row a Node through customer_row / subscription_row, as
customers.yaml items are): forcing every row onto it must give the same normalized tables and the
same problems, message for message, as the column-wise path; and the column-wise path must call
the per-row functions only for the rows that fail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import usagebill.catalog.columnar as columnar
from tests.rating import test_catalog_bulk
from usagebill.catalog import CatalogError, parse_catalog

# good rows, and rows each breaking one rule (a value rule, or a rule across rows or files)
catalog = test_catalog_bulk.catalog  # the fixture: the gpu_cloud plans, customers to come in bulk

CUSTOMERS_CSV = """id,tenant_id,name,email,currency,country,customer_type,tax_exempt,created_at,address_line1,address_city,metadata
cus_1,,Acme,ap@acme.test,USD,US,business,false,2026-01-15,1 Main St,Springfield,
cus_2,,,,JPY,JP,,,,,,"{""crm"": ""42""}"
cus_3,acme,Acme Three,,EUR,DE,individual,TRUE,2026-02-01,,Berlin,
cus_3,globex,Globex Three,,EUR,DE,, False ,,,,
cus_5,,Bad currency,,EUX,,,,,,,
cus_1,,Duplicate,,USD,,,,,,,
bad id!,,Bad id,,USD,,,,,,,
 cus_8,,Leading space,,USD,,,,,,,
cus_9,bad tenant!,Bad tenant,,USD,,,,,,,
cus_10,,Bad type,,USD,,robot,,,,,
cus_11,,Bad flag,,USD,,,maybe,,,,
cus_12,,Bad date,,USD,,,,2026-02-30,,,
cus_13,,Week date,,USD,,,,2026-W10-1,,,
cus_14,,Bad JSON,,USD,,,,,,,{nope
cus_15,,Currency lower,,usd,,,,,,,
cus_16,,No currency,,,,,,,,,
,,No id,,USD,,,,,,,
cus_18,default,Explicit default,,USD,US,,,,,,
cus_18,,Same as default,,USD,US,,,,,,
"""
SUBSCRIPTIONS_CSV = """id,tenant_id,customer_id,plan_id,start_date,end_date,billing_anchor_day,trial_days,trial_usage_amount,billing_period,currency,metadata
sub_1,,cus_1,payg,2026-03-01,,1,,,,,
sub_2,,cus_2,payg_jpy,2026-03-01,2026-09-01,15,14,,monthly,JPY,
sub_3,acme,cus_3,starter_eur,2026-03-01,,,,10.50,,,"{""a"": 1}"
sub_4,,cus_3,starter_eur,2026-03-01,,,,,,,
sub_5,,cus_404,payg,2026-03-01,,,,,,,
sub_6,,cus_1,no_plan,2026-03-01,,,,,,,
sub_7,,cus_1,payg_jpy,2026-03-01,,,,,,,
sub_8,,cus_18,growth,2026-03-01,2026-02-01,,,,,,
sub_9,,cus_18,growth,,,,,,,,
sub_10,,cus_18,growth,2026-03-01,,29,,,,,
sub_11,,cus_18,growth,2026-03-01,,x,,,,,
sub_12,,cus_18,growth,2026-03-01,, 7 ,,,,,
sub_13,,cus_18,growth,2026-03-01,,,-1,,,,
sub_14,,cus_18,growth,2026-03-01,,,,0.1234567890123,,,
sub_15,,cus_18,growth,2026-03-01,,,,-1,,,
sub_16,,cus_18,growth,2026-03-01,,,,,annual,,
sub_17,,cus_18,growth,2026-03-01,,,,,weekly,,
sub_18,,cus_18,growth,2026-03-01,,,,,,EUR,
sub_19,,cus_18,growth,2026-03-01,,,,,,USD,
sub_1,,cus_18,growth,2026-03-01,,,,,,,
sub_21,,cus_18,growth,1999-01-01,,,,,,,
sub_22,globex,cus_3,payg_eur,2026-03-01,,,,,,,
sub_23,,cus_18,growth,2026-03-01,,,,,,,[
bad id,,cus_18,growth,2026-03-01,,,,,,,
"""


def outcome(catalog: Path) -> tuple[list[str], dict[str, list[dict[str, Any]]] | None]:
    """(the problems, the normalized tables when there are none)."""
    try:
        tables = parse_catalog(catalog).tables
    except CatalogError as error:
        return [str(issue) for issue in error.issues], None
    return [], tables


def per_row_outcome(catalog: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    """The reference: every row refused by the column-wise checks, so all take the per-row path."""
    with monkeypatch.context() as patch:
        patch.setattr(columnar, "_and", lambda masks: [False] * len(masks[0]))
        return outcome(catalog)


def count_per_row_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"customer_row": 0, "subscription_row": 0}
    for name in calls:
        real = getattr(columnar, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(columnar, name, counted)
    return calls


def test_bad_rows_get_the_per_row_messages_and_only_they_take_that_path(
    catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (catalog / "customers.csv").write_text(CUSTOMERS_CSV)
    (catalog / "subscriptions.csv").write_text(SUBSCRIPTIONS_CSV)
    reference, _ = per_row_outcome(catalog, monkeypatch)
    calls = count_per_row_calls(monkeypatch)
    found, _ = outcome(catalog)
    assert found == reference
    # a sample of the messages, written out (the same text as customers.yaml items get)
    assert "customers.csv: line 6.currency: unknown currency 'EUX'; use an ISO 4217 code" in found
    assert "customers.csv: line 7.id: duplicate customer id 'cus_1' in tenant 'default'" in found
    assert "customers.csv: line 13.created_at: '2026-02-30' is not a date YYYY-MM-DD" in found
    assert "customers.csv: line 20.id: duplicate customer id 'cus_18' in tenant 'default'" in found
    assert (
        "subscriptions.csv: line 5.customer_id: customer 'cus_3' exists in tenants acme, globex; add tenant_id to say which one"
        in found
    )
    assert "subscriptions.csv: line 21.id: duplicate subscription id 'sub_1'" in found
    assert (
        "subscriptions.csv: line 18.billing_period: 'weekly' is not one of monthly, quarterly, annual"
        in found
    )
    # 19 customer rows, 6 good: cus_1, cus_2, cus_3 in acme and in globex (" False " is a boolean
    # once stripped), cus_13 (2026-W10-1 is an ISO week date, which the date rule accepts), the
    # first cus_18; the 13 others fail a rule and take the per-row path
    assert calls["customer_row"] == 19 - 6
    # 24 subscription rows, 6 good: sub_1, sub_2, sub_3, sub_12 (" 7 " is the integer 7),
    # sub_19 (currency USD = plan growth's), sub_22 (cus_3 of tenant globex); 18 per-row calls
    assert calls["subscription_row"] == 24 - 6


def test_good_rows_are_the_same_rows_column_wise_and_per_row(
    catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_customers = [
        line for i, line in enumerate(CUSTOMERS_CSV.splitlines()) if i in (0, 1, 2, 3, 4, 13, 18)
    ]
    good_subs = [line for i, line in enumerate(SUBSCRIPTIONS_CSV.splitlines()) if i in (0, 1, 2, 3, 12, 22)]
    (catalog / "customers.csv").write_text("\n".join(good_customers) + "\n")
    (catalog / "subscriptions.csv").write_text("\n".join(good_subs) + "\n")
    reference = per_row_outcome(catalog, monkeypatch)
    calls = count_per_row_calls(monkeypatch)
    found = outcome(catalog)
    assert found[0] == [] and found == reference
    tables = found[1]
    assert tables is not None
    # cus_13's week date 2026-W10-1 is Monday of ISO week 10 of 2026 = 2026-03-02 (Python's rule)
    by_id = {(c["tenant_id"], c["customer_id"]): c for c in tables["customers"]}
    assert by_id[("default", "cus_13")]["created_at"] == date(2026, 3, 2)
    assert (
        by_id[("acme", "cus_3")]["tax_exempt"] is True and by_id[("globex", "cus_3")]["tax_exempt"] is False
    )
    assert (
        by_id[("default", "cus_2")]["name"] == "cus_2"
        and by_id[("default", "cus_2")]["customer_type"] == "business"
    )
    assert by_id[("default", "cus_1")]["address_json"] == '{"city":"Springfield","line1":"1 Main St"}'
    subs = {s["subscription_id"]: s for s in tables["subscriptions"]}
    assert (subs["sub_3"]["tenant_id"], subs["sub_3"]["trial_usage_amount"]) == ("acme", "10.50")
    assert (subs["sub_12"]["billing_anchor_day"], subs["sub_2"]["end_date"]) == (7, date(2026, 9, 1))
    # the week date and " 7 " are accepted column-wise too: the same rule decides each distinct value
    assert calls == {"customer_row": 0, "subscription_row": 0}


def test_parquet_types_column_wise_and_per_row(catalog: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(
        pa.table(
            {
                "id": ["cus_1", "cus_2", "cus_3", "cus_4"],
                "currency": ["USD", "USD", "EUR", ""],
                "name": ["One", "", None, "Four"],
                "created_at": pa.array(
                    [datetime(2026, 1, 1), None, datetime(2026, 1, 1, 12), None], pa.timestamp("s")
                ),
                "tax_exempt": [True, None, False, True],
            }
        ),
        catalog / "customers.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "id": ["sub_1", "sub_2", "sub_3"],
                "customer_id": ["cus_1", "cus_2", "cus_3"],
                "plan_id": ["payg", "payg", "payg_eur"],
                "start_date": pa.array([date(2026, 3, 1)] * 3, pa.date32()),
                "billing_anchor_day": pa.array([1, 28, 0], pa.int8()),
                "trial_usage_amount": pa.array(
                    [Decimal("5.25"), None, Decimal("-1.00")], pa.decimal128(10, 2)
                ),
            }
        ),
        catalog / "subscriptions.parquet",
    )
    reference = per_row_outcome(catalog, monkeypatch)
    found = outcome(catalog)
    assert found == reference
    assert found[0] == [
        "customers.parquet: row 1.created_at: datetime.datetime(2026, 1, 1, 0, 0) is not a date YYYY-MM-DD",
        "customers.parquet: row 3.created_at: datetime.datetime(2026, 1, 1, 12, 0) is not a date YYYY-MM-DD",
        "customers.parquet: row 4.currency: is required",
        "subscriptions.parquet: row 3.billing_anchor_day: 0 must be at least 1",
        "subscriptions.parquet: row 3.trial_usage_amount: -1.00 must be at least 0",
    ]


def test_a_large_valid_file_is_built_without_the_per_row_path(
    catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 3_000
    plans = [("payg", "USD"), ("payg_eur", "EUR"), ("payg_jpy", "JPY")]
    customers = ["id,currency,created_at"] + [
        f"c{i},{plans[i % 3][1]},2026-01-{1 + i % 28:02d}" for i in range(count)
    ]
    subs = ["id,customer_id,plan_id,start_date,billing_anchor_day"] + [
        f"s{i},c{i},{plans[i % 3][0]},2026-03-01,{1 + i % 28}" for i in range(count)
    ]
    (catalog / "customers.csv").write_text("\n".join(customers) + "\n")
    (catalog / "subscriptions.csv").write_text("\n".join(subs) + "\n")
    reference = per_row_outcome(catalog, monkeypatch)
    calls = count_per_row_calls(monkeypatch)
    found = outcome(catalog)
    assert calls == {"customer_row": 0, "subscription_row": 0}
    assert found == reference and found[1] is not None
    rows = {s["subscription_id"]: s for s in found[1]["subscriptions"]}
    # row 1000: plan index 1000 % 3 = 1 (payg_eur, EUR), anchor 1 + 1000 % 28 = 1 + 20 = 21
    assert (rows["s1000"]["currency"], rows["s1000"]["billing_anchor_day"]) == ("EUR", 21)
