"""Every marketplace identity carries its tenant (issue 11): customer ids are unique per tenant only, so
the same customer id in two tenants, same dimension and hour, is two customers with two identities, two
running totals and two ledger keys: both are reported, neither suppresses the other, and a crash replay
still reports each once. Old ledgers without tenant_id belong to the default tenant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import duckdb
import pytest
import requests

from exports.fakes.aws_metering import FakeAwsMetering
from exports.fakes.azure_metering import AzureSubscription, FakeAzureMetering
from exports.marketplace.aws import AwsMeteringTransport, make_client
from exports.marketplace.azure import AzureMeteringTransport, EntraToken
from exports.marketplace.catalog import MarketplaceCatalogError, load_identities
from exports.marketplace.ledger import TABLE, Ledger
from exports.marketplace.reporter import report_hours

from . import conftest as mk
from .conftest import H0

RUN = H0 + timedelta(hours=1, minutes=10)  # the scheduled run after H0 (inside every window)
GLOBEX = "globex"


def _two_tenants_billed():
    # cus_0001 of the default tenant billed $1.50, cus_0001 of globex $2.30 in the same hour
    return mk.billed([("cus_0001", "gpu_ms", H0, "1.50"), ("cus_0001", "gpu_ms", H0, "2.30", GLOBEX)])


AWS_CATALOG = mk.make_catalog({"aws": [mk.dim("aws", "gpu_usage")]})
# cus_0001 of the default tenant on AWS account 1, cus_0001 of globex on AWS account 101
AWS_IDENTS = [mk.aws_ident(1), mk.aws_ident(1, tenant=GLOBEX, account_n=101)]


@contextmanager
def _aws(clock: mk.Clock, backoff) -> Iterator[tuple[FakeAwsMetering, AwsMeteringTransport]]:
    """The AWS fake (both tenants' accounts subscribed) and the real boto3 transport pointed at it."""
    with FakeAwsMetering({i.license_arn for i in AWS_IDENTS}, now=clock) as fake:
        yield fake, AwsMeteringTransport(make_client(endpoint_url=fake.url), backoff=backoff, now=clock)


def _held(fake: FakeAwsMetering) -> set[tuple[str, int]]:
    return {(account, quantity) for (account, _dim, _hour), quantity in fake.quantities().items()}


def test_aws_same_customer_id_in_two_tenants_both_reported(isolated, fast_backoff):
    catalog, idents, path, clock = AWS_CATALOG, AWS_IDENTS, isolated / "wh.duckdb", mk.Clock(RUN)
    with _aws(clock, fast_backoff) as (fake, transport):
        summary = mk.report_quietly(
            "aws", [H0], catalog, idents, _two_tenants_billed(), Ledger(path), transport, RUN
        )
        held = _held(fake)
    # $1.50 / $0.01 = 150 units for the default tenant's account, $2.30 / $0.01 = 230 for globex's.
    # Before the fix: one key (aws, cus_0001, gpu_usage, H0) for both, the amounts summed (380 units) and
    # sent once to the first identity; the other tenant's record was never sent.
    assert held == {("000000000001", 150), ("000000000101", 230)}
    current = Ledger(path).current("aws")
    assert {k: (r.state, r.quantity) for k, r in current.items()} == {
        ("aws", "default", "cus_0001", "gpu_usage", H0): ("acknowledged", Decimal(150)),
        ("aws", GLOBEX, "cus_0001", "gpu_usage", H0): ("acknowledged", Decimal(230)),
    }
    assert summary.states["acknowledged"] == 2


def test_aws_crash_replay_with_two_tenants_reports_each_once(isolated, fast_backoff):
    """Killed after the request reached AWS, before the outcome was written: the next run resends both
    tenants' keys unchanged (AWS: identical retries are idempotent); each tenant's usage is held once."""
    catalog, idents, path, clock = AWS_CATALOG, AWS_IDENTS, isolated / "wh.duckdb", mk.Clock(RUN)
    series = _two_tenants_billed()
    with _aws(clock, fast_backoff) as (fake, transport):
        mk.report_quietly(
            "aws", [H0], catalog, idents, series, Ledger(path), transport, RUN, killed="after_send"
        )
        assert {r.state for r in Ledger(path).current("aws").values()} == {"planned"}
        assert len(Ledger(path).current("aws")) == 2
        clock.now = RUN + timedelta(hours=1)
        mk.report_quietly(
            "aws", [H0, H0 + timedelta(hours=1)], catalog, idents, series, Ledger(path), transport, clock.now
        )
        held = {(account, hour): quantity for (account, _dim, hour), quantity in fake.quantities().items()}
        received = fake.records_received
    # H0: 150 and 230 units, each held once; H0+1h: nothing billed -> a zero record per tenant (AWS: a
    # record every hour); 2 + 2 (resent after the crash) + 2 records received
    assert held == {
        ("000000000001", H0): 150,
        ("000000000101", H0): 230,
        ("000000000001", H0 + timedelta(hours=1)): 0,
        ("000000000101", H0 + timedelta(hours=1)): 0,
    }
    assert received == 6
    states = {k[1:3] + (k[4],): r.state for k, r in Ledger(path).current("aws").items()}
    assert states == {
        # an identical retry is idempotent on AWS: Success again, AWS still holds one record per tenant
        ("default", "cus_0001", H0): "acknowledged",
        (GLOBEX, "cus_0001", H0): "acknowledged",
        ("default", "cus_0001", H0 + timedelta(hours=1)): "acknowledged",
        (GLOBEX, "cus_0001", H0 + timedelta(hours=1)): "acknowledged",
    }


def test_azure_same_customer_id_in_two_tenants_both_reported(isolated, fast_backoff):
    catalog = mk.make_catalog({"azure": [mk.dim("azure", "gpu_hours", price="0.5")]})
    idents = [mk.azure_ident(1), mk.azure_ident(1, tenant=GLOBEX, resource_n=101)]
    # $1.50 / $0.50 = 3 units (default), $2.30 / $0.50 = 4.6 units (globex)
    clock = mk.Clock(RUN)
    subs = [AzureSubscription(i.resource_id or "", "payg-plan", {"gpu_hours"}) for i in idents]
    with FakeAzureMetering("t", "c", "s", subs, now=clock) as fake:
        session = requests.Session()
        transport = AzureMeteringTransport(
            endpoint=fake.url,
            token=EntraToken(session, fake.url, "t", "c", "s"),
            session=session,
            backoff=fast_backoff,
            now=clock,
        )
        path = isolated / "wh.duckdb"
        mk.report_quietly("azure", [H0], catalog, idents, _two_tenants_billed(), Ledger(path), transport, RUN)
        held = sorted(
            (resource[-3:], quantity) for (resource, _dim, _hour), quantity in fake.quantities().items()
        )
    assert held == [("001", Decimal(3)), ("101", Decimal("4.6"))]


def test_google_same_customer_id_in_two_tenants_both_reported(isolated, fast_backoff):
    metric = "gpu.endpoints.demo.cloud.goog/gpu_usage"
    catalog = mk.make_catalog({"google": [mk.dim("google", metric)]})
    idents = [mk.google_ident(1), mk.google_ident(1, tenant=GLOBEX, project_n=101)]
    clock = mk.Clock(RUN)
    fake = mk.google_fake(idents, {metric}, clock)
    with fake:
        transport = mk.google_transport(fake, clock, fast_backoff)
        path = isolated / "wh.duckdb"
        mk.report_quietly(
            "google", [H0], catalog, idents, _two_tenants_billed(), Ledger(path), transport, RUN
        )
        held = sorted(
            (op["consumerId"], int(op["metricValueSets"][0]["metricValues"][0]["int64Value"]))
            for op in fake.accepted
        )
    # two consumers, two operations: 150 and 230 units
    assert held == [("project_number:1", 150), ("project_number:101", 230)]


def test_blocking_one_tenants_customer_leaves_the_same_id_in_another_tenant_reported(isolated, fast_backoff):
    with _aws(mk.Clock(RUN), fast_backoff) as (fake, transport):
        report_hours(
            "aws",
            [H0],
            catalog=AWS_CATALOG,
            identities=AWS_IDENTS,
            billed=_two_tenants_billed(),
            ledger=Ledger(isolated / "wh.duckdb"),
            transport=transport,
            now=RUN,
            log=lambda _m: None,
            blocked={(GLOBEX, "cus_0001")},
        )
        held = _held(fake)
    assert held == {("000000000001", 150)}  # globex's cus_0001 waits; the default tenant's is reported


def test_old_ledger_without_tenant_id_is_the_default_tenants(isolated):
    """A ledger written before tenants existed: its rows get tenant_id 'default' on first open, and a key
    already acknowledged there is not planned again for the default tenant."""
    path = isolated / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema ledger")
        con.execute(
            f"""create table {TABLE} (seq bigint not null, run_id varchar not null, recorded_at timestamp
            not null, marketplace varchar not null, customer_id varchar not null, marketplace_customer varchar
            not null, offering_id varchar not null, dimension varchar not null, hour_start timestamp not null,
            state varchar not null, quantity decimal(38, 12) not null, cumulative_units decimal(38, 12) not null,
            carried_remainder decimal(38, 12) not null, unit_price decimal(38, 12) not null, currency varchar
            not null, counted boolean not null, carried_to_hour timestamp, window_start timestamp, window_end
            timestamp, request_key varchar, metering_record_id varchar, detail varchar)"""
        )
        con.execute(
            f"insert into {TABLE} values (1, 'old', timestamp '2026-05-10 13:10:00', 'aws', 'cus_0001', 'x', "
            "'gpu', 'gpu_usage', timestamp '2026-05-10 12:00:00', 'acknowledged', 150, 150, 0, 0.01, 'USD', "
            "true, null, null, null, null, 'mr-1', null)"
        )
    ledger = Ledger(path)
    current = ledger.current("aws")
    assert list(current) == [("aws", "default", "cus_0001", "gpu_usage", H0)]
    with duckdb.connect(str(path)) as con:
        assert con.execute(f"select tenant_id, sent_quantity from {TABLE}").fetchall() == [("default", None)]
    from exports.marketplace.planning import ReportedTotals, plan_hour

    rows = plan_hour(
        "aws",
        H0,
        RUN,
        AWS_CATALOG,
        AWS_IDENTS,
        _two_tenants_billed(),
        ReportedTotals(current.values()),
        current,
    )
    # the default tenant's key is done (old ledger); globex's is new: 230 units planned
    assert [(r.tenant_id, r.quantity) for r in rows] == [(GLOBEX, Decimal(230))]


def _customers_yaml(tmp_path, text: str):
    path = tmp_path / "marketplace_customers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_identities_file_takes_a_tenant_per_customer(tmp_path):
    catalog = mk.make_catalog({"aws": [mk.dim("aws", "gpu_usage")]})
    path = _customers_yaml(
        tmp_path,
        """customers:
  - customer_id: cus_0001
    aws: {offering: gpu, customer_identifier: Legacy1, states: [{state: subscribed, since: 2026-05-01}]}
  - customer_id: cus_0001
    tenant_id: globex
    aws: {offering: gpu, customer_identifier: Legacy2, states: [{state: subscribed, since: 2026-05-01}]}
""",
    )
    idents = load_identities(catalog, path)
    assert [(i.tenant_id, i.customer_id, i.customer_label) for i in idents] == [
        ("default", "cus_0001", "cus_0001"),
        ("globex", "cus_0001", "globex/cus_0001"),
    ]


def test_identities_file_refuses_bad_tenants_and_one_marketplace_account_for_two_customers(tmp_path):
    catalog = mk.make_catalog({"aws": [mk.dim("aws", "gpu_usage")]})
    path = _customers_yaml(
        tmp_path,
        """customers:
  - customer_id: cus_0001
    tenant_id: acme corp
    aws: {offering: gpu, customer_identifier: Legacy9, states: [{state: subscribed, since: 2026-05-01}]}
  - customer_id: cus_0001
    aws: {offering: gpu, customer_identifier: Legacy1, states: [{state: subscribed, since: 2026-05-01}]}
  - customer_id: cus_0001
    tenant_id: globex
    aws: {offering: gpu, customer_identifier: Legacy1, states: [{state: subscribed, since: 2026-05-01}]}
""",
    )
    with pytest.raises(MarketplaceCatalogError) as caught:
        load_identities(catalog, path)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "customers[0].tenant_id: tenant 'acme corp' is not a valid tenant name" in problems[0]
    assert (
        "customers[2].aws: aws customer 'Legacy1' on offering 'gpu' is already mapped to customer 'cus_0001'"
        in (problems[1])
    )


def test_summary_counts_the_same_customer_id_of_two_tenants_twice(isolated, fast_backoff):
    """`usagebill summary`'s ledger line counts keys per (marketplace, tenant, customer, dimension, hour):
    the two tenants' cus_0001 at H0 are two acknowledged customer-dimension-hours, not one."""
    from usagebill.summary import _export_lines

    path = isolated / "wh.duckdb"
    with _aws(mk.Clock(RUN), fast_backoff) as (_fake, transport):
        mk.report_quietly(
            "aws", [H0], AWS_CATALOG, AWS_IDENTS, _two_tenants_billed(), Ledger(path), transport, RUN
        )
    with duckdb.connect(str(path), read_only=True) as con:
        lines = _export_lines(con)
    assert lines == ["Marketplace reporting ledger (aws): customer-dimension-hours acknowledged 2"]
