"""Marketplace usage is never lost and never counted as delivered when it was refused (issue 14):
crash injection around the call, an expired Azure secret for 25 hours, a Google 429 burst, Google
token refresh / check refusals / unanswered reports, Azure Duplicate quantities, window settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from exports.fakes.aws_metering import FakeAwsMetering
from exports.fakes.azure_metering import AzureSubscription, FakeAzureMetering
from exports.marketplace.aws import AwsMeteringTransport, make_client
from exports.marketplace.azure import AzureMeteringTransport, EntraToken
from exports.marketplace.billable import BilledSeries
from exports.marketplace.catalog import load_offerings
from exports.marketplace.ledger import Ledger, ReportRow

from . import conftest as mk
from .conftest import H0

EXAMPLES = Path(__file__).resolve().parents[2] / "usagebill" / "marketplace_examples"
HOUR = timedelta(hours=1)
RUN = H0 + timedelta(hours=1, minutes=10)  # the scheduled run after H0 (inside every window)


# ---------------------------------------------------------------- crash before the request leaves
def _killed_before_send(catalog, idents, series, path, fake, clock, backoff) -> AwsMeteringTransport:
    """A run for H0 killed after planning, before the request left; returns a working transport."""
    transport = AwsMeteringTransport(make_client(endpoint_url=fake.url), backoff=backoff, now=clock)
    mk.report_quietly(
        "aws", [H0], catalog, idents, series, Ledger(path), transport, clock.now, killed="before_send"
    )
    return transport


def test_crash_before_the_request_leaves_is_resent_and_never_counted_as_delivered(isolated, fast_backoff):
    catalog = mk.make_catalog({"aws": [mk.dim("aws", "gpu_usage")]})
    idents = [mk.aws_ident(1)]
    series = mk.billed([("cus_0001", "gpu_ms", H0, "1.50")])  # $1.50 / $0.01 = 150 units
    clock = mk.Clock(RUN)
    path = isolated / "wh.duckdb"
    with FakeAwsMetering({idents[0].license_arn}, now=clock) as fake:
        transport = _killed_before_send(catalog, idents, series, path, fake, clock, fast_backoff)
        # before the fix the row was `sent` (counted as delivered) although nothing left
        assert [r.state for r in Ledger(path).history("aws")] == ["planned"]
        assert fake.calls == 0
        clock.now += HOUR  # the next scheduled run, still inside the 6 h window
        mk.report_quietly("aws", [], catalog, idents, series, Ledger(path), transport, clock.now)
    assert fake.quantities() == {("000000000001", "gpu_usage", H0): 150}
    assert [r.state for r in Ledger(path).history("aws")] == ["planned", "acknowledged"]


def test_crash_before_send_then_window_closed_carries_the_units_to_the_next_hour(isolated, fast_backoff):
    catalog = mk.make_catalog({"aws": [mk.dim("aws", "gpu_usage")]})
    idents = [mk.aws_ident(1)]
    later = H0 + 8 * HOUR
    # 150 units in H0, 40 units in `later`: the recovery run finds H0 outside the 6 h window
    series = mk.billed([("cus_0001", "gpu_ms", H0, "1.50"), ("cus_0001", "gpu_ms", later, "0.40")])
    clock = mk.Clock(RUN)
    path = isolated / "wh.duckdb"
    with FakeAwsMetering({idents[0].license_arn}, now=clock) as fake:
        transport = _killed_before_send(catalog, idents, series, path, fake, clock, fast_backoff)
        clock.now = later + timedelta(hours=1, minutes=10)
        mk.report_quietly("aws", [later], catalog, idents, series, Ledger(path), transport, clock.now)
    current = Ledger(path).current("aws")
    assert current[("aws", "default", "cus_0001", "gpu_usage", H0)].state == "carried"
    # 150 + 40 = 190 units go with `later`: nothing lost
    assert fake.quantities() == {("000000000001", "gpu_usage", later): 190}


# ---------------------------------------------------------------- Azure: expired secret for 25 hours
def _azure_setup(monkeypatch):
    monkeypatch.setenv("USAGEBILL_AZURE_TENANT_ID", "tenant-1")
    monkeypatch.setenv("USAGEBILL_AZURE_CLIENT_ID", "client-1")
    monkeypatch.setenv("USAGEBILL_AZURE_CLIENT_SECRET", "s3cret")
    return mk.make_catalog({"azure": [mk.dim("azure", "gpu_hours", price="36.00")]}), mk.azure_ident(1)


def _azure_transport(fake, clock, backoff) -> AzureMeteringTransport:
    session = requests.Session()
    token = EntraToken(session, authority=fake.url)
    return AzureMeteringTransport(endpoint=fake.url, token=token, session=session, backoff=backoff, now=clock)


def test_azure_expired_secret_for_25_hours_loses_nothing(isolated, monkeypatch, fast_backoff):
    catalog, ident = _azure_setup(monkeypatch)
    hours = [H0 + i * HOUR for i in range(26)]
    # $3.60 per hour at $36 per gpu_hour = 0.1 gpu_hours per hour
    series = mk.billed([("cus_0001", "gpu_ms", h, "3.60") for h in hours])
    clock = mk.Clock(H0)
    path = isolated / "wh.duckdb"
    sub = AzureSubscription(ident.resource_id, "payg-plan", {"gpu_hours"})
    with FakeAzureMetering("tenant-1", "client-1", "s3cret", [sub], now=clock) as fake:
        transport = _azure_transport(fake, clock, fast_backoff)
        fake.secret_expired = True  # AADSTS7000222 for hours 0..24 (25 hourly runs)
        for hour in hours[:25]:
            clock.now = hour + timedelta(hours=1, minutes=10)
            mk.report_quietly("azure", [hour], catalog, [ident], series, Ledger(path), transport, clock.now)
        failed = Ledger(path).current("azure")
        assert len(failed) == 25 and {(r.state, r.counted) for r in failed.values()} == {("failed", False)}
        assert "AADSTS7000222" in (failed[("azure", "default", "cus_0001", "gpu_hours", H0)].detail or "")
        assert fake.events == {}  # nothing reached Azure
        fake.secret_expired = False  # the secret is rotated
        clock.now = hours[25] + timedelta(hours=1, minutes=10)
        mk.report_quietly("azure", [hours[25]], catalog, [ident], series, Ledger(path), transport, clock.now)
    # all 26 hours x 0.1 = 2.6 gpu_hours in the first hour Azure accepts again
    assert fake.quantities() == {(ident.resource_id, "gpu_hours", hours[25]): Decimal("2.6")}


# ---------------------------------------------------------------- Azure: Duplicate with acceptedMessage
def test_azure_duplicate_records_the_marketplace_quantity_and_flags_the_difference(
    isolated, monkeypatch, fast_backoff
):
    catalog, ident = _azure_setup(monkeypatch)
    # H0: $9.00 -> 0.25 gpu_hours; H0+1: $3.60 -> 0.1
    series = mk.billed([("cus_0001", "gpu_ms", H0, "9.00"), ("cus_0001", "gpu_ms", H0 + HOUR, "3.60")])
    clock = mk.Clock(RUN)
    path = isolated / "wh.duckdb"
    sub = AzureSubscription(ident.resource_id, "payg-plan", {"gpu_hours"})
    with FakeAzureMetering("tenant-1", "client-1", "s3cret", [sub], now=clock) as fake:
        transport = _azure_transport(fake, clock, fast_backoff)
        session, token = transport.session, transport.token
        # another process already reported 0.2 for this resource + dimension + hour
        answer = session.post(
            f"{fake.url}/api/usageEvent?api-version=2018-08-31",
            json={
                "resourceId": ident.resource_id,
                "quantity": 0.2,
                "dimension": "gpu_hours",
                "effectiveStartTime": "2026-05-10T12:00:00Z",
                "planId": "payg-plan",
            },
            headers={"authorization": f"Bearer {token.get()}"},
            timeout=10,
        )
        assert answer.status_code == 200
        mk.report_quietly("azure", [H0], catalog, [ident], series, Ledger(path), transport, clock.now)
        row = Ledger(path).current("azure")[("azure", "default", "cus_0001", "gpu_hours", H0)]
        assert (row.state, row.quantity, row.sent_quantity) == ("duplicate", Decimal("0.2"), Decimal("0.25"))
        assert "QUANTITY DIFFERS" in (row.detail or "") and "difference 0.05" in (row.detail or "")
        clock.now += HOUR
        mk.report_quietly("azure", [H0 + HOUR], catalog, [ident], series, Ledger(path), transport, clock.now)
    # the next hour reports 0.1 + the 0.05 Azure does not hold = 0.15; total at Azure 0.2 + 0.15 = 0.35
    assert fake.quantities()[(ident.resource_id, "gpu_hours", H0 + HOUR)] == Decimal("0.15")


# ---------------------------------------------------------------- Google
class _GoogleRun:
    """Google customer cus_0001 (project_number:1) billed `series`, reported by the scheduled run after
    H0 (H0 + 1 h 10 min, `clock`) into the ledger at `path`, through `fake` (started by `with`)."""

    def __init__(self, path: Path, series: BilledSeries) -> None:
        self.path, self.series, self.clock = path, series, mk.Clock(RUN)
        self.catalog, self.idents, self.fake, self.metric = mk.google_setup(self.clock)

    def report(self, hours: list[datetime], transport, **kw) -> None:
        ledger = Ledger(self.path)
        mk.report_quietly(
            "google", hours, self.catalog, self.idents, self.series, ledger, transport, self.clock.now, **kw
        )

    def row(self, hour: datetime = H0) -> ReportRow:
        return Ledger(self.path).current("google")[("google", "default", "cus_0001", self.metric, hour)]


def test_google_429_burst_loses_nothing_and_the_next_window_starts_at_the_last_accepted_end(
    isolated, fast_backoff
):
    clock = mk.Clock(H0)
    catalog, idents, fake, metric = mk.google_setup(clock)
    hours = [H0 + i * HOUR for i in range(6)]
    series = mk.billed([("cus_0001", "gpu_ms", h, "1.00") for h in hours])  # 100 units per hour, 600 in all
    path = isolated / "wh.duckdb"
    with fake:
        transport = mk.google_transport(fake, clock, fast_backoff)
        for hour in hours:
            clock.now = hour + timedelta(hours=1, minutes=10)
            fake.throttle_next = 100 if hour < hours[5] else 0  # a 429 burst during hours 0..4
            mk.report_quietly("google", [hour], catalog, idents, series, Ledger(path), transport, clock.now)
    current = Ledger(path).current("google")
    assert [current[("google", "default", "cus_0001", metric, h)].state for h in hours] == ["failed"] * 5 + [
        "acknowledged"
    ]
    assert not any(r.counted for r in current.values() if r.state == "failed")
    # one accepted window [H0, H0+6h) with all 600 units (before the fix: 100 of 600, consumer blocked)
    assert [(o["startTime"], o["endTime"]) for o in fake.accepted] == [
        ("2026-05-10T12:00:00Z", "2026-05-10T18:00:00Z")
    ]
    assert fake.totals() == {("project_number:1", metric): 600}


def test_google_default_window_lets_the_next_scheduled_run_recover_a_killed_report(isolated, fast_backoff):
    """The hourly schedule runs at :10, so the run after a killed one comes 70 min after the hour's end.
    With the old 1 h Google window that recovery fell outside the window and the hour was carried; the
    default window (2 h, > run_interval_minutes) lets the next run resend it inside the window."""
    g = _GoogleRun(isolated / "wh.duckdb", mk.billed([("cus_0001", "gpu_ms", H0, "0.09")]))  # 9 units
    with g.fake:
        transport = mk.google_transport(g.fake, g.clock, fast_backoff)
        g.report([H0], transport, killed="before_send")
        g.clock.now += HOUR  # next scheduled run: 2 h 10 min after H0 starts, 1 h 10 min after it ends
        g.report([], transport)
    assert g.row(H0).state == "acknowledged"
    assert [(o["startTime"], o["endTime"]) for o in g.fake.accepted] == [
        ("2026-05-10T12:00:00Z", "2026-05-10T13:00:00Z")
    ]
    assert g.fake.totals() == {("project_number:1", g.metric): 9}


def test_google_token_expiry_is_refreshed_by_google_auth(isolated, fast_backoff):
    series = mk.billed([("cus_0001", "gpu_ms", H0, "0.05"), ("cus_0001", "gpu_ms", H0 + HOUR, "0.07")])
    g = _GoogleRun(isolated / "wh.duckdb", series)
    with g.fake:
        transport = mk.google_transport(g.fake, g.clock, fast_backoff)
        g.report([H0], transport)
        assert g.fake.token_requests == 1
        g.fake.expire_tokens()  # the access token expired: 401, google-auth refreshes and retries
        g.clock.now += HOUR
        g.report([H0 + HOUR], transport)
    assert g.fake.token_requests == 2
    assert g.fake.totals() == {("project_number:1", g.metric): 12}  # 5 + 7
    assert g.fake.unchecked_reports == 0


def test_google_revoked_key_is_failed_not_delivered(isolated, fast_backoff):
    from exports.fakes.google_servicecontrol import new_service_account_key

    g = _GoogleRun(isolated / "wh.duckdb", mk.billed([("cus_0001", "gpu_ms", H0, "0.05")]))
    with g.fake:
        other_key, _ = new_service_account_key()  # a key Google does not know (revoked / rotated)
        g.report([H0], mk.google_transport(g.fake, g.clock, fast_backoff, private_pem=other_key))
    row = g.row(H0)
    assert (row.state, row.counted) == ("failed", False)
    assert "access token" in (row.detail or "") and g.fake.operations_received == 0


def test_google_check_error_blocks_the_report_and_the_usage_waits(isolated, fast_backoff):
    series = mk.billed([("cus_0001", "gpu_ms", H0, "0.05"), ("cus_0001", "gpu_ms", H0 + HOUR, "0.02")])
    g = _GoogleRun(isolated / "wh.duckdb", series)
    with g.fake:
        g.fake.inactive_consumers.add("project_number:1")
        transport = mk.google_transport(g.fake, g.clock, fast_backoff)
        g.report([H0], transport)
        row = g.row(H0)
        assert (row.state, row.counted) == ("failed", False) and "SERVICE_NOT_ACTIVATED" in (row.detail or "")
        assert g.fake.check_calls == 1 and g.fake.operations_received == 0  # check first, no report
        g.fake.inactive_consumers.clear()
        g.clock.now += HOUR
        g.report([H0 + HOUR], transport)
    # window [H0, H0+2h) with 5 + 2 = 7 units
    assert [(o["startTime"], o["endTime"]) for o in g.fake.accepted] == [
        ("2026-05-10T12:00:00Z", "2026-05-10T14:00:00Z")
    ]
    assert g.fake.totals() == {("project_number:1", g.metric): 7}


def test_google_unanswered_report_is_not_resent_but_unconfirmed(isolated, fast_backoff, monkeypatch):
    g = _GoogleRun(isolated / "wh.duckdb", mk.billed([("cus_0001", "gpu_ms", H0, "0.05")]))
    fake = g.fake
    with fake:
        transport = mk.google_transport(fake, g.clock, fast_backoff)
        original = fake._report

        def accept_then_500(request):  # Google processes the report, the answer is a 500 (x4 attempts)
            original(request)
            return 500, fake._status(500, "INTERNAL", "backend error (injected)")

        monkeypatch.setattr(fake, "_report", accept_then_500)
        g.report([H0], transport)
        assert g.row(H0).state == "sent"
        monkeypatch.setattr(fake, "_report", original)
        received = fake.operations_received
        g.clock.now += timedelta(minutes=20)
        g.report([], transport)
    row = g.row(H0)
    assert (row.state, row.counted) == ("unconfirmed", True)
    assert fake.operations_received == received  # never resent: no documented de-duplication
    assert fake.totals() == {("project_number:1", g.metric): 5}  # accepted once by the first attempt


def test_fake_does_not_deduplicate_a_resent_operation_id(isolated, fast_backoff):
    clock = mk.Clock(RUN)
    catalog, idents, fake, metric = mk.google_setup(clock)
    op = {
        "operationId": "00000000-0000-5000-8000-000000000001",
        "operationName": "usagebill/hourly-usage",
        "consumerId": "project_number:1",
        "startTime": "2026-05-10T12:00:00Z",
        "endTime": "2026-05-10T13:00:00Z",
        "metricValueSets": [{"metricName": metric, "metricValues": [{"int64Value": "5"}]}],
    }
    first = fake._report({"operations": [op]})
    second = fake._report({"operations": [op]})  # same operationId, same window
    assert "reportErrors" not in first[1]
    assert second[1]["reportErrors"][0]["status"]["code"] == 3  # overlapping window refused, not deduped


# ---------------------------------------------------------------- window settings
def test_window_shorter_than_the_run_interval_is_refused(isolated, tmp_path):
    example = (EXAMPLES / "marketplace_offerings.yaml").read_text()
    path = tmp_path / "offerings.yaml"
    path.write_text(example.replace("  google: 2\n", "  google: 1\n"))
    with pytest.raises(ValueError) as err:
        load_offerings(path)
    message = str(err.value)
    assert "window_hours.google" in message and "run_interval_minutes (70)" in message
    path.write_text(example)
    assert load_offerings(path).window_hours["google"] == 2
