"""Shared fixtures: an isolated warehouse, a small offering catalog, a settable clock, fast backoff."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exports.marketplace.billable import BilledHour, BilledSeries
from exports.marketplace.catalog import (
    Dimension,
    Listing,
    MarketplaceIdentity,
    OfferingCatalog,
    StatePeriod,
)
from exports.marketplace.ledger import Ledger, ReportRow
from exports.marketplace.reporter import RunSummary, report_hours
from exports.marketplace.transport import Backoff, Outcome, Transport
from tests.isolation import isolate_paths
from usagebill.tenants import DEFAULT_TENANT

SINCE = datetime(2026, 5, 1, tzinfo=UTC)
SERVICE = "gpu.endpoints.demo.cloud.goog"
H0 = datetime(2026, 5, 10, 12, tzinfo=UTC)  # the hour most scenarios report


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    isolate_paths(tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return tmp_path


def dim(marketplace: str, name: str, meter: str = "gpu_ms", price: str = "0.01") -> Dimension:
    return Dimension(marketplace, "gpu", name, meter, "unit", Decimal(price), "USD", None)


def make_catalog(dims: dict[str, list[Dimension]], windows: dict[str, int] | None = None) -> OfferingCatalog:
    listings = []
    for mp, ds in dims.items():
        listings.append(
            Listing(
                mp,
                "gpu",
                ("payg",),
                f"prod-{mp}",
                "prodcode123" if mp == "aws" else None,
                "payg-plan" if mp != "aws" else None,
                SERVICE if mp == "google" else None,
                tuple(ds),
            )
        )
    return OfferingCatalog(
        "USD",
        Decimal("1"),
        {"aws": Decimal("3"), "azure": Decimal("3"), "google": Decimal("3")},
        windows or {"aws": 6, "azure": 24, "google": 2},
        tuple(listings),
    )


def _ident(
    n: int, marketplace: str, tenant: str, states: tuple[StatePeriod, ...] | None = None, **ref: str
) -> MarketplaceIdentity:
    """Customer cus_<n> of `tenant` on `marketplace`'s gpu offering, subscribed since SINCE (or in
    `states`); `ref`: the marketplace's own reference for the customer."""
    return MarketplaceIdentity(
        f"cus_{n:04d}",
        marketplace,
        "gpu",
        states=states or (StatePeriod("subscribed", SINCE),),
        tenant_id=tenant,
        **ref,
    )


def aws_ident(
    n: int,
    states: tuple[StatePeriod, ...] | None = None,
    tenant: str = DEFAULT_TENANT,
    account_n: int | None = None,
) -> MarketplaceIdentity:
    """Customer cus_<n> of `tenant` on AWS, AWS account <account_n or n> (12 digits)."""
    number = n if account_n is None else account_n
    account = f"{number:012d}"
    arn = f"arn:aws:license-manager::{account}:license:l-{number:08x}"
    return _ident(n, "aws", tenant, states, account_id=account, license_arn=arn)


def azure_ident(n: int, tenant: str = DEFAULT_TENANT, resource_n: int | None = None) -> MarketplaceIdentity:
    """Customer cus_<n> of `tenant` on Azure, SaaS subscription (resource id) <resource_n or n>."""
    resource = f"00000000-0000-4000-8000-{(n if resource_n is None else resource_n):012d}"
    return _ident(n, "azure", tenant, resource_id=resource, plan_id="payg-plan")


def google_ident(n: int, tenant: str = DEFAULT_TENANT, project_n: int | None = None) -> MarketplaceIdentity:
    """Customer cus_<n> of `tenant` on Google, consumer project_number:<project_n or n>."""
    project = f"project_number:{n if project_n is None else project_n}"
    return _ident(n, "google", tenant, usage_reporting_id=project)


def billed(rows: list[tuple[str, ...]]) -> BilledSeries:
    """(customer_id, meter_id, hour, billed amount[, tenant]) -> series (tenant: the default)."""
    return BilledSeries(
        BilledHour(r[0], r[1], (), r[2], Decimal(r[3]), "USD", r[4] if len(r) > 4 else DEFAULT_TENANT)  # type: ignore[arg-type]
        for r in rows
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report_quietly(
    marketplace: str,
    hours: Sequence[datetime],
    catalog: OfferingCatalog,
    identities: Sequence[MarketplaceIdentity],
    series: BilledSeries,
    ledger: Ledger,
    transport: Transport,
    now: datetime,
    *,
    killed: str | None = None,
) -> RunSummary:
    """report_hours without progress output. `killed`: the process dies during the run (Crashing),
    "after_send" (the call reached the marketplace, its outcome is never written) or "before_send"
    (after planning, before the request left); the run raises Killed and returns an empty summary."""
    if killed is not None:
        transport = Crashing(transport, Killed(f"process killed {killed}"), sends=killed == "after_send")
    with pytest.raises(Killed) if killed else contextlib.nullcontext():
        return report_hours(
            marketplace,
            hours,
            catalog=catalog,
            identities=identities,
            billed=series,
            ledger=ledger,
            transport=transport,
            now=now,
            log=lambda _m: None,
        )
    return RunSummary(marketplace)


class Killed(RuntimeError):
    """The process died (raised by Crashing in place of the rest of the run)."""


class Crashing:
    """Wraps a transport: `error` is raised in place of the rest of the run, either after the call
    reached the marketplace, before the ledger write (`sends=True`), or after planning, before the
    request left (`sends=False`)."""

    calls = 0

    def __init__(self, transport: Transport, error: Exception, *, sends: bool = True) -> None:
        self.marketplace = transport.marketplace
        self.transport, self.error, self.sends = transport, error, sends

    def send(self, rows: Sequence[ReportRow], *args: object, **kwargs: object) -> list[Outcome]:
        """As Transport.send, then `error`."""
        if self.sends:
            self.transport.send(rows, *args, **kwargs)  # type: ignore[arg-type]
        raise self.error


def google_fake(
    idents: Sequence[MarketplaceIdentity], metrics: set[str], clock: Clock, window_hours: int = 2
):
    """A Service Control fake (not started) trusting a fresh service-account key (`fake.private_pem`)."""
    from exports.fakes.google_servicecontrol import (
        SERVICE_ACCOUNT_EMAIL,
        FakeServiceControl,
        new_service_account_key,
    )

    private_pem, public_pem = new_service_account_key()
    fake = FakeServiceControl(
        SERVICE,
        SERVICE_ACCOUNT_EMAIL,
        public_pem,
        {i.usage_reporting_id or "" for i in idents},
        metrics,
        window_hours,
        now=clock,
    )
    fake.private_pem = private_pem  # type: ignore[attr-defined]
    return fake


def google_setup(clock: Clock, n: int = 1, window_hours: int = 2):
    """Customers cus_0001..n on Google (project_number:1..n) billed for one metric, SERVICE/gpu_usage,
    with a reporting window of `window_hours`: (catalog, identities, fake (not started), metric)."""
    metric = f"{SERVICE}/gpu_usage"
    catalog = make_catalog(
        {"google": [dim("google", metric)]}, {"aws": 6, "azure": 24, "google": window_hours}
    )
    idents = [google_ident(i + 1) for i in range(n)]
    return catalog, idents, google_fake(idents, {metric}, clock, window_hours), metric


def google_transport(fake, clock: Clock, backoff: Backoff, private_pem: str | None = None):
    """The real transport with google-auth service-account credentials whose token_uri is the fake's."""
    from google.oauth2 import service_account

    from exports.fakes.google_servicecontrol import SCOPE, service_account_info
    from exports.marketplace.google import GoogleServiceControlTransport

    info = service_account_info(private_pem or fake.private_pem, f"{fake.url}/token")
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    return GoogleServiceControlTransport(
        endpoint=fake.url, credentials=credentials, backoff=backoff, now=clock
    )


@pytest.fixture
def ledger(isolated) -> Ledger:
    return Ledger(isolated / "wh.duckdb", run_id="test")


@pytest.fixture
def fast_backoff() -> Backoff:
    sleeps: list[float] = []
    backoff = Backoff(max_attempts=4, base_seconds=0.01, sleep=sleeps.append)
    backoff.sleeps = sleeps  # type: ignore[attr-defined]
    return backoff
