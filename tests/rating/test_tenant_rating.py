"""Tenant isolation in rating: a customer is (tenant_id, customer_id), from the catalog to the bill.

One `usagebill rate` run (catalog -> raw -> dbt build) on tests/rating/tenants_catalog:
tenants acme and globex both have a customer "cus_1"; "cus_a_only" belongs to acme alone. The plan
charges 0.10 USD per unit (per_unit, unit_size 1), so a line is 0.10 x the units of that customer.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from usagebill.catalog import CatalogError, parse_catalog
from usagebill.rating import RatingResult

from .scenario_events import rate_events

CATALOG = Path(__file__).resolve().parent / "tenants_catalog"


def _event(tenant: str, event_id: str, customer: str, quantity: str, day: int = 10) -> dict[str, str]:
    return {
        "tenant_id": tenant,
        "event_id": event_id,
        "customer_id": customer,
        "meter": "units",
        "timestamp": f"2026-05-{day:02d}T12:00:00Z",
        "quantity": quantity,
    }


EVENTS = [
    # acme's own usage
    _event("acme", "e1", "cus_1", "10"),
    _event("acme", "e2", "cus_1", "5", day=11),
    _event("acme", "e3", "cus_a_only", "7"),
    # globex's own customer cus_1, with an event id that acme also used (a different event)
    _event("globex", "e1", "cus_1", "100"),
    # globex writing usage for acme's customer (the collector refuses this at the door; here it
    # arrives by a file drop, so rating itself must not bill it to acme)
    _event("globex", "g2", "cus_a_only", "1000"),
    # globex replaying acme's event ids for acme's customers
    _event("globex", "e2", "cus_1", "0.5", day=11),  # lands on globex's own cus_1: globex pays it
    _event("globex", "e3", "cus_a_only", "7"),  # acme's cus_a_only must not be billed twice
]


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> RatingResult:
    return rate_events(
        CATALOG, EVENTS, date(2026, 5, 1), date(2026, 6, 1), tmp_path_factory.mktemp("tenant-rate")
    )


def test_same_customer_id_in_two_tenants_gets_two_bills(rated: RatingResult) -> None:
    # acme/cus_1: 10 + 5 = 15 units x 0.10 = 1.50 USD (globex's 100 + 0.5 units are not acme's)
    assert rated.totals("cus_1", "acme") == {"USD": Decimal("1.50")}
    # globex/cus_1: 100 + 0.5 = 100.5 units x 0.10 = 10.05 USD
    assert rated.totals("cus_1", "globex") == {"USD": Decimal("10.05")}
    assert {line["subscription_id"] for line in rated.lines_of("cus_1", "acme")} == {"sub_acme_1"}
    assert {line["subscription_id"] for line in rated.lines_of("cus_1", "globex")} == {"sub_globex_1"}
    assert {line["tenant_id"] for line in rated.lines} == {"acme", "globex"}


def test_other_tenant_cannot_bill_or_replay_onto_a_customer(rated: RatingResult) -> None:
    # acme/cus_a_only: only acme's e3, 7 units x 0.10 = 0.70 USD. Joining usage by customer id alone
    # would bill (7 + 1000 + 7) x 0.10 = 101.40 USD: globex's g2 and its replay of e3 included.
    assert rated.totals("cus_a_only", "acme") == {"USD": Decimal("0.70")}
    assert rated.lines_of("cus_a_only", "globex") == []
    # everything billed: 1.50 + 10.05 + 0.70 = 12.25 USD
    assert rated.totals() == {"USD": Decimal("12.25")}


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG, target)
    return target


def test_catalog_customer_tenant_rules(tmp_path: Path) -> None:
    tables = parse_catalog(CATALOG).tables
    assert {(c["tenant_id"], c["customer_id"]) for c in tables["customers"]} == {
        ("acme", "cus_1"),
        ("globex", "cus_1"),
        ("acme", "cus_a_only"),
    }
    # a subscription belongs to its customer's tenant, also when the YAML does not repeat it
    assert {s["subscription_id"]: s["tenant_id"] for s in tables["subscriptions"]} == {
        "sub_acme_1": "acme",
        "sub_globex_1": "globex",
        "sub_acme_a": "acme",
    }

    catalog = _copy(tmp_path)
    subs = yaml.safe_load((catalog / "subscriptions.yaml").read_text())
    del subs["subscriptions"][0]["tenant_id"]  # cus_1 exists in two tenants: which one?
    (catalog / "subscriptions.yaml").write_text(yaml.safe_dump(subs))
    customers = yaml.safe_load((catalog / "customers.yaml").read_text())
    customers["customers"].append({"id": "cus_x", "tenant_id": "acme corp", "currency": "USD"})
    customers["customers"].append({"id": "cus_1", "tenant_id": "acme", "currency": "USD"})
    (catalog / "customers.yaml").write_text(yaml.safe_dump(customers))
    with pytest.raises(CatalogError) as info:
        parse_catalog(catalog)
    text = str(info.value)
    assert "customer 'cus_1' exists in tenants acme, globex; add tenant_id to say which one" in text
    assert "tenant 'acme corp' is not a valid tenant name" in text
    assert "duplicate customer id 'cus_1' in tenant 'acme'" in text


def test_customers_default_to_the_default_tenant(tmp_path: Path) -> None:
    catalog = _copy(tmp_path)
    (catalog / "customers.yaml").write_text("customers:\n  - {id: cus_1, currency: USD}\n")
    (catalog / "subscriptions.yaml").write_text(
        "subscriptions:\n  - {id: s1, customer_id: cus_1, plan_id: payg, start_date: 2026-05-01}\n"
    )
    tables = parse_catalog(catalog).tables
    assert tables["customers"][0]["tenant_id"] == "default"
    assert tables["subscriptions"][0]["tenant_id"] == "default"
