"""Azure (Entra token + batchUsageEvent) and Google (Service Control report) against their contract fakes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from exports.fakes.azure_metering import AzureSubscription, FakeAzureMetering
from exports.marketplace.azure import AzureMeteringTransport, EntraToken
from exports.marketplace.ledger import Ledger

from . import conftest as mk
from .conftest import H0


@pytest.fixture
def azure_env(monkeypatch):
    monkeypatch.setenv("USAGEBILL_AZURE_TENANT_ID", "tenant-1")
    monkeypatch.setenv("USAGEBILL_AZURE_CLIENT_ID", "client-1")
    monkeypatch.setenv("USAGEBILL_AZURE_CLIENT_SECRET", "s3cret")


def _azure(n: int, clock: mk.Clock):
    catalog = mk.make_catalog(
        {"azure": [mk.dim("azure", "gpu_hours", price="36.00"), mk.dim("azure", "api", "api_calls", "0.5")]}
    )
    idents = [mk.azure_ident(i + 1) for i in range(n)]
    subs = [AzureSubscription(i.resource_id, "payg-plan", {"gpu_hours", "api"}) for i in idents]
    fake = FakeAzureMetering("tenant-1", "client-1", "s3cret", subs, now=clock)
    return catalog, idents, fake


def _azure_transport(fake, clock, backoff, version="v2"):
    session = requests.Session()
    token = EntraToken(session, authority=fake.url, version=version)
    return AzureMeteringTransport(endpoint=fake.url, token=token, session=session, backoff=backoff, now=clock)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_azure_token_batch_and_only_positive_quantities(azure_env, ledger, fast_backoff, version):
    clock = mk.Clock(H0 + timedelta(hours=1, minutes=5))
    catalog, idents, fake = _azure(30, clock)
    # customers 1..30 each billed $18.00 of GPU (0.5 gpu_hours at $36) and nothing for api calls
    series = mk.billed([(i.customer_id, "gpu_ms", H0, "18.00") for i in idents])
    with fake:
        transport = _azure_transport(fake, clock, fast_backoff, version)
        summary = mk.report_quietly("azure", [H0], catalog, idents, series, ledger, transport, clock.now)
    assert fake.batch_sizes == [25, 5]  # 30 events (zero-quantity api events never sent)
    assert fake.token_requests == 1
    assert summary.states["acknowledged"] == 30
    assert set(fake.quantities().values()) == {Decimal("0.5")}


def test_azure_409_duplicate_counts_as_already_reported_after_a_crash(azure_env, isolated, fast_backoff):
    clock = mk.Clock(H0 + timedelta(hours=1, minutes=5))
    catalog, idents, fake = _azure(2, clock)
    series = mk.billed([(i.customer_id, "gpu_ms", H0, "9.00") for i in idents])  # 0.25 hours each
    with fake:
        transport = _azure_transport(fake, clock, fast_backoff)

        ledger = Ledger(isolated / "wh.duckdb")
        mk.report_quietly(
            "azure", [H0], catalog, idents, series, ledger, transport, clock.now, killed="after_send"
        )
        fake.expire_tokens()  # the re-run also has to refresh its token (403 -> new token)
        summary = mk.report_quietly(
            "azure", [H0], catalog, idents, series, Ledger(isolated / "wh.duckdb"), transport, clock.now
        )
    assert summary.states["duplicate"] == 2  # Azure: Duplicate / 409 = already reported
    assert len(fake.quantities()) == 2 and set(fake.quantities().values()) == {Decimal("0.25")}
    current = Ledger(isolated / "wh.duckdb").current("azure")
    assert {(r.state, r.counted) for r in current.values()} == {("duplicate", True)}


def test_azure_throttling_retried_and_single_event_api_answers_409(azure_env, ledger, fast_backoff):
    clock = mk.Clock(H0 + timedelta(hours=1, minutes=5))
    catalog, idents, fake = _azure(1, clock)
    with fake:
        fake.throttle_next = 1
        transport = _azure_transport(fake, clock, fast_backoff)
        summary = mk.report_quietly(
            "azure",
            [H0],
            catalog,
            idents,
            mk.billed([("cus_0001", "gpu_ms", H0, "36.00")]),
            ledger,
            transport,
            clock.now,
        )
        assert summary.states["acknowledged"] == 1 and fast_backoff.sleeps == [0.01]
        token = transport.token.get()
        url = f"{fake.url}/api/usageEvent?api-version=2018-08-31"
        event = {
            "resourceId": idents[0].resource_id,
            "quantity": 1,
            "dimension": "gpu_hours",
            "effectiveStartTime": "2026-05-10T12:00:00Z",
            "planId": "payg-plan",
        }
        auth = {"authorization": f"Bearer {token}"}
        dup = requests.post(url, json=event, headers=auth, timeout=10)
        zero = requests.post(url, json=dict(event, quantity=0, dimension="api"), headers=auth, timeout=10)
        old = requests.post(
            url,
            json=dict(event, effectiveStartTime="2026-05-09T12:00:00Z", dimension="api"),
            headers=auth,
            timeout=10,
        )
    assert dup.status_code == 409 and dup.json()["additionalInfo"]["acceptedMessage"]["quantity"] == 1.0
    assert zero.status_code == 400 and zero.json()["status"] == "InvalidQuantity"
    assert old.status_code == 400 and old.json()["status"] == "Expired"


# ---------------------------------------------------------------- Google


def _google_transport(fake, clock, backoff):
    return mk.google_transport(fake, clock, backoff)


def test_google_windows_are_contiguous_and_missed_hours_widen_the_next_window(ledger, fast_backoff):
    clock = mk.Clock(H0)
    catalog, idents, fake, metric = mk.google_setup(clock, 1, window_hours=1)
    hours = [H0 + timedelta(hours=i) for i in range(4)]
    series = mk.billed([("cus_0001", "gpu_ms", h, "0.05") for h in hours])  # 5 units per hour
    with fake:
        transport = _google_transport(fake, clock, fast_backoff)
        # hourly runs for hours 0 and 1; the run for hour 2 never happened; hour 3 runs late enough that
        # hour 2 is outside Google's 1 h window -> carried, and hour 3's window starts where hour 1 ended
        for h in (hours[0], hours[1]):
            clock.now = h + timedelta(hours=1, minutes=5)
            mk.report_quietly("google", [h], catalog, idents, series, ledger, transport, clock.now)
        clock.now = hours[3] + timedelta(hours=1, minutes=5)
        mk.report_quietly("google", hours, catalog, idents, series, ledger, transport, clock.now)
    windows = sorted(
        (op["startTime"], op["endTime"], op["metricValueSets"][0]["metricValues"][0]["int64Value"])
        for op in fake.operations.values()
    )
    assert windows == [
        ("2026-05-10T12:00:00Z", "2026-05-10T13:00:00Z", "5"),
        ("2026-05-10T13:00:00Z", "2026-05-10T14:00:00Z", "5"),
        ("2026-05-10T14:00:00Z", "2026-05-10T16:00:00Z", "10"),
    ]  # hours 2+3, contiguous
    assert fake.totals() == {("project_number:1", metric): 20}  # 4 hours x 5 units
    assert ledger.current("google")[("google", "default", "cus_0001", metric, hours[2])].state == "carried"


def test_google_resend_after_a_crash_during_the_call_is_not_counted_twice(isolated, fast_backoff):
    """Google documents no operationId de-duplication (the fake processes a re-sent operation again).
    A run killed after Google accepted its operations leaves them `planned`; the resend is refused
    (its window overlaps the accepted one) and is recorded `unconfirmed` (counted), never failed (which
    would report the usage a second time with the next window)."""
    clock = mk.Clock(H0 + timedelta(hours=1, minutes=5))
    catalog, idents, fake, metric = mk.google_setup(clock, 2)
    series = mk.billed([(i.customer_id, "gpu_ms", H0, "0.03") for i in idents])  # $0.03 / $0.01 = 3 units
    with fake:
        transport = _google_transport(fake, clock, fast_backoff)
        ledger = Ledger(isolated / "wh.duckdb")
        mk.report_quietly(
            "google", [H0], catalog, idents, series, ledger, transport, clock.now, killed="after_send"
        )
        assert {r.state for r in Ledger(isolated / "wh.duckdb").current("google").values()} == {"planned"}
        summary = mk.report_quietly(
            "google", [H0], catalog, idents, series, Ledger(isolated / "wh.duckdb"), transport, clock.now
        )
        # the next hour: 2 more units each ($0.02), window starts where the accepted one ended
        series2 = mk.billed(
            [(i.customer_id, "gpu_ms", H0, "0.03") for i in idents]
            + [(i.customer_id, "gpu_ms", H0 + timedelta(hours=1), "0.02") for i in idents]
        )
        clock.now += timedelta(hours=1)
        mk.report_quietly(
            "google",
            [H0 + timedelta(hours=1)],
            catalog,
            idents,
            series2,
            Ledger(isolated / "wh.duckdb"),
            transport,
            clock.now,
        )
    assert summary.states["unconfirmed"] == 2 and fake.operations_received == 6  # 2 + 2 resent + 2 next
    # 3 + 2 = 5 units per consumer at Google: nothing twice, nothing lost
    assert fake.totals() == {("project_number:1", metric): 5, ("project_number:2", metric): 5}
    assert fake.unchecked_reports == 0  # services.check before every report


def test_google_report_error_is_recorded_failed_and_quantity_moves_on(ledger, fast_backoff):
    clock = mk.Clock(H0 + timedelta(hours=1, minutes=5))
    catalog, idents, fake, metric = mk.google_setup(clock)
    series = mk.billed(
        [("cus_0001", "gpu_ms", H0, "0.07"), ("cus_0001", "gpu_ms", H0 + timedelta(hours=1), "0.01")]
    )
    with fake:
        transport = _google_transport(fake, clock, fast_backoff)
        from exports.marketplace.planning import google_operation_id

        fake.fail_operation_ids.add(
            google_operation_id(mk.SERVICE, "project_number:1", H0, H0 + timedelta(hours=1))
        )
        mk.report_quietly("google", [H0], catalog, idents, series, ledger, transport, clock.now)
        assert ledger.current("google")[("google", "default", "cus_0001", metric, H0)].state == "failed"
        clock.now += timedelta(hours=1)
        mk.report_quietly(
            "google", [H0 + timedelta(hours=1)], catalog, idents, series, ledger, transport, clock.now
        )
    ops = list(fake.operations.values())
    # the failed window is re-covered: [12:00, 14:00) with 7 + 1 = 8 units
    assert [(o["startTime"], o["endTime"]) for o in ops] == [("2026-05-10T12:00:00Z", "2026-05-10T14:00:00Z")]
    assert fake.totals() == {("project_number:1", metric): 8}
