"""AWS reporting through the real boto3 client against the contract fake (and moto for the transport)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exports.fakes.aws_metering import FakeAwsMetering
from exports.marketplace.aws import AwsMeteringTransport, make_client
from exports.marketplace.ledger import Ledger

from .conftest import H0, Clock, aws_ident, billed, dim, make_catalog, report_quietly

DIMS = ["gpu_usage", "api", "storage", "egress", "seats"]


@pytest.fixture
def clock() -> Clock:
    return Clock(H0 + timedelta(hours=1, minutes=5))


def _setup(n_customers: int, dims: list[str] = DIMS):
    catalog = make_catalog({"aws": [dim("aws", d) for d in dims]})
    idents = [aws_ident(i + 1) for i in range(n_customers)]
    return catalog, idents


def _transport(fake: FakeAwsMetering, clock: Clock, backoff) -> AwsMeteringTransport:
    return AwsMeteringTransport(make_client(endpoint_url=fake.url), backoff=backoff, now=clock)


def test_sixty_records_go_in_three_calls_of_at_most_25(ledger, clock, fast_backoff):
    catalog, idents = _setup(12)  # 12 customers x 5 dimensions = 60 records -> 25 + 25 + 10
    with FakeAwsMetering({i.license_arn for i in idents}, now=clock) as fake:
        summary = report_quietly(
            "aws", [H0], catalog, idents, billed([]), ledger, _transport(fake, clock, fast_backoff), clock.now
        )
    assert fake.batch_sizes == [25, 25, 10]
    assert summary.states["acknowledged"] == 60
    assert len(fake.records) == 60 and set(fake.quantities().values()) == {0}  # zero records too


def test_throttling_is_retried_with_backoff(ledger, clock, fast_backoff):
    catalog, idents = _setup(1, ["gpu_usage"])
    with FakeAwsMetering({idents[0].license_arn}, now=clock) as fake:
        fake.throttle_next = 2
        fake.internal_error_next = 0
        summary = report_quietly(
            "aws",
            [H0],
            catalog,
            idents,
            billed([("cus_0001", "gpu_ms", H0, "1.23")]),
            ledger,
            _transport(fake, clock, fast_backoff),
            clock.now,
        )
    # 2 throttled calls + 1 successful = 3 calls; backoff 0.01 then 0.02 s
    assert fake.calls == 3 and summary.calls == 3
    assert fast_backoff.sleeps == [0.01, 0.02]
    assert fake.quantities() == {("000000000001", "gpu_usage", H0): 123}  # $1.23 / $0.01


def test_internal_error_retried_then_unprocessed_records_resent(ledger, clock, fast_backoff):
    catalog, idents = _setup(2, ["gpu_usage", "api"])
    with FakeAwsMetering({i.license_arn for i in idents}, now=clock) as fake:
        fake.internal_error_next = 1
        fake.unprocessed_next = [3]  # first processed call leaves the last 3 of 4 records unprocessed
        summary = report_quietly(
            "aws", [H0], catalog, idents, billed([]), ledger, _transport(fake, clock, fast_backoff), clock.now
        )
    # call 1: 500; call 2: 1 processed + 3 unprocessed; call 3: the 3 resent
    assert fake.calls == 3 and fake.batch_sizes == [4, 3]
    assert summary.states["acknowledged"] == 4 and len(fake.records) == 4


def test_crash_after_call_before_ledger_write_then_rerun_reports_each_hour_once(
    isolated, clock, fast_backoff
):
    catalog, idents = _setup(3, ["gpu_usage"])
    series = billed([(i.customer_id, "gpu_ms", H0, "2.00") for i in idents])
    with FakeAwsMetering({i.license_arn for i in idents}, now=clock) as fake:
        transport = _transport(fake, clock, fast_backoff)

        # the call reaches AWS ... but its outcome is never written
        ledger = Ledger(isolated / "wh.duckdb", run_id="run-1")
        report_quietly(
            "aws", [H0], catalog, idents, series, ledger, transport, clock.now, killed="after_send"
        )
        # no `sent` before the call: the crash leaves the rows `planned` (the request may have left)
        assert {r.state for r in Ledger(isolated / "wh.duckdb").current("aws").values()} == {"planned"}
        # re-run (and a second re-run): the planned records are resent identically -> idempotent at AWS
        for run in ("run-2", "run-3"):
            summary = report_quietly(
                "aws",
                [H0],
                catalog,
                idents,
                series,
                Ledger(isolated / "wh.duckdb", run_id=run),
                transport,
                clock.now,
            )
        assert summary.calls == 0  # third run: nothing left to do
    # each customer-hour exactly once at AWS with 200 units ($2.00 / $0.01); 3 records each sent twice
    assert fake.quantities() == {(i.account_id, "gpu_usage", H0): 200 for i in idents}
    assert fake.records_received == 6
    states = Ledger(isolated / "wh.duckdb").current("aws")
    assert {r.state for r in states.values()} == {"acknowledged"}


def test_backfill_reports_only_never_reported_hours(ledger, fast_backoff):
    catalog, idents = _setup(1, ["gpu_usage"])
    hours = [H0 + timedelta(hours=i) for i in range(4)]
    series = billed([("cus_0001", "gpu_ms", h, "0.10") for h in hours])  # 10 units per hour
    clock = Clock(hours[-1] + timedelta(hours=1, minutes=5))
    with FakeAwsMetering({idents[0].license_arn}, now=clock) as fake:
        transport = _transport(fake, clock, fast_backoff)
        # hours 0 and 2 were reported by the hourly schedule (hour 2 carries hour 1's units: 20)
        for h in (hours[0], hours[2]):
            report_quietly("aws", [h], catalog, idents, series, ledger, transport, clock.now)
        calls_before = fake.calls
        summary = report_quietly("aws", hours, catalog, idents, series, ledger, transport, clock.now)
    assert summary.planned == 2  # only hours 1 and 3
    assert fake.calls - calls_before == 1
    # hour 0: 10; hour 2: cumulative 30 - 10 = 20; backfilled hour 1: cumulative 20 - 30 reported -> 0;
    # hour 3: cumulative 40 - 30 = 10. Total 40 = 4 x 10: nothing lost, nothing doubled.
    assert fake.quantities() == {
        ("000000000001", "gpu_usage", hours[0]): 10,
        ("000000000001", "gpu_usage", hours[1]): 0,
        ("000000000001", "gpu_usage", hours[2]): 20,
        ("000000000001", "gpu_usage", hours[3]): 10,
    }


def test_window_missed_usage_is_carried_and_the_fake_would_have_refused_it(ledger, fast_backoff):
    catalog, idents = _setup(1, ["gpu_usage"])
    old, recent = H0, H0 + timedelta(hours=7)
    series = billed([("cus_0001", "gpu_ms", old, "0.50"), ("cus_0001", "gpu_ms", recent, "0.05")])
    clock = Clock(recent + timedelta(hours=1, minutes=5))  # 'old' is 8 h old; the window is 6 h
    with FakeAwsMetering({idents[0].license_arn}, now=clock) as fake:
        transport = _transport(fake, clock, fast_backoff)
        client = make_client(endpoint_url=fake.url)
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError, match="TimestampOutOfBoundsException"):
            client.batch_meter_usage(
                UsageRecords=[
                    {
                        "Timestamp": old,
                        "Dimension": "gpu_usage",
                        "Quantity": 50,
                        "CustomerAWSAccountId": idents[0].account_id,
                        "LicenseArn": idents[0].license_arn,
                    }
                ]
            )
        report_quietly("aws", [old, recent], catalog, idents, series, ledger, transport, clock.now)
    rows = ledger.current("aws")
    assert rows[("aws", "default", "cus_0001", "gpu_usage", old)].state == "carried"
    # 50 carried + 5 new units reported with the next open hour
    assert fake.quantities() == {("000000000001", "gpu_usage", recent): 55}


def test_not_subscribed_at_aws_fails_and_its_quantity_goes_with_the_next_hour(ledger, fast_backoff):
    catalog, idents = _setup(1, ["gpu_usage"])
    h1 = H0 + timedelta(hours=1)
    series = billed([("cus_0001", "gpu_ms", H0, "0.30"), ("cus_0001", "gpu_ms", h1, "0.20")])
    clock = Clock(H0 + timedelta(hours=1, minutes=5))
    with FakeAwsMetering(set(), now=clock) as fake:  # AWS does not know the customer yet
        transport = _transport(fake, clock, fast_backoff)
        report_quietly("aws", [H0], catalog, idents, series, ledger, transport, clock.now)
        assert ledger.current("aws")[("aws", "default", "cus_0001", "gpu_usage", H0)].state == "failed"
        fake.subscribed.add(idents[0].license_arn)
        clock.now = h1 + timedelta(hours=1, minutes=5)
        report_quietly("aws", [h1], catalog, idents, series, ledger, transport, clock.now)
    assert fake.quantities() == {("000000000001", "gpu_usage", h1): 50}  # 30 + 20


def test_fake_enforces_the_contract():
    from botocore.exceptions import ClientError

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    acct, arn = "000000000001", "arn:aws:license-manager::000000000001:license:l-1"
    with FakeAwsMetering({arn}) as fake:
        client = make_client(endpoint_url=fake.url)
        rec = {
            "Timestamp": now,
            "Dimension": "d",
            "Quantity": 1,
            "CustomerAWSAccountId": acct,
            "LicenseArn": arn,
        }
        with pytest.raises(ClientError, match="at most 25"):
            client.batch_meter_usage(UsageRecords=[dict(rec, Dimension=f"d{i}") for i in range(26)])
        with pytest.raises(ClientError, match="exactly one of"):
            client.batch_meter_usage(UsageRecords=[dict(rec, CustomerIdentifier="legacy")], ProductCode="p")
        with pytest.raises(ClientError, match="Quantity"):
            client.batch_meter_usage(UsageRecords=[dict(rec, Quantity=2_147_483_648)])
        first = client.batch_meter_usage(UsageRecords=[rec])["Results"][0]
        again = client.batch_meter_usage(UsageRecords=[rec])["Results"][0]
        other = client.batch_meter_usage(UsageRecords=[dict(rec, Quantity=2)])["Results"][0]
    assert (first["Status"], again["Status"], other["Status"]) == ("Success", "Success", "DuplicateRecord")
    assert again["MeteringRecordId"] == first["MeteringRecordId"]


def test_real_boto3_client_against_moto_server_seeded_in_process(ledger, fast_backoff):
    from moto.meteringmarketplace.models import meteringmarketplace_backends
    from moto.server import ThreadedMotoServer

    catalog, _ = _setup(1, ["gpu_usage"])
    legacy = aws_ident(1)
    from dataclasses import replace

    legacy = replace(legacy, account_id=None, license_arn=None, customer_identifier="LegacyCustomer1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto only knows legacy ProductCode + CustomerIdentifier; seed the subscription in-process
        meteringmarketplace_backends["123456789012"]["us-east-1"].customers_by_product["prodcode123"].append(
            "LegacyCustomer1"
        )
        clock = Clock(datetime.now(UTC))
        hour = clock.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        transport = AwsMeteringTransport(
            make_client(endpoint_url=f"http://{host}:{port}"), backoff=fast_backoff, now=clock
        )
        summary = report_quietly(
            "aws",
            [hour],
            catalog,
            [legacy],
            billed([("cus_0001", "gpu_ms", hour, "0.07")]),
            ledger,
            transport,
            clock.now,
        )
    finally:
        server.stop()
    row = ledger.current("aws")[("aws", "default", "cus_0001", "gpu_usage", hour)]
    assert summary.states["acknowledged"] == 1 and row.quantity == Decimal(7)
    assert row.metering_record_id  # moto's random MeteringRecordId came back over HTTP
