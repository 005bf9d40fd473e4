"""Run a marketplace report from the warehouse (used by the Dagster assets and the command line).

    python -m exports.marketplace.run report --marketplace aws --start 2026-10-31T00 --end 2026-10-31T03
    python -m exports.marketplace.run load   # catalog YAML + revenue feeds -> raw/marketplace/

Modes (USAGEBILL_MARKETPLACE_MODE): `live` (default) sends to the endpoints configured by environment
variables (docs/marketplaces.md); `fake` starts the contract fakes in-process on 127.0.0.1 (demo):
every identity subscribed there, and the clock at `now`.
Clock (USAGEBILL_MARKETPLACE_NOW): unset -> the wall clock (production); an RFC 3339 time -> that fixed
moment for every hour; `replay` (fake mode only) -> each hour is judged at its own end + 10 minutes, as
the hourly schedule would have run it, so a range replayed in one run reports every hour in its window.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from exports.marketplace.billable import BilledSeries, read_billed_hours
from exports.marketplace.catalog import (
    CUSTOMERS_FILE,
    OFFERINGS_FILE,
    MarketplaceIdentity,
    OfferingCatalog,
    load_identities,
    load_offerings,
)
from exports.marketplace.fx import FX_FILE, CurrencyConversionError, FxRates, load_fx_rates
from exports.marketplace.ledger import Ledger
from exports.marketplace.reporter import RunSummary, report_hours
from exports.marketplace.revenue import FEEDS, load_revenue_feeds, write_catalog_tables
from exports.marketplace.transport import Transport
from exports.marketplace.windows import HOUR, hour_floor
from usagebill.engine import table_exists
from usagebill.paths import catalog_dir, data_dir, warehouse_path
from usagebill.progress import Progress

EXAMPLES = Path(__file__).resolve().parents[2] / "usagebill" / "marketplace_examples"


REPLAY = "replay"
# The hourly schedule runs 10 minutes past each hour: a replayed hour is judged at its end + 10 minutes.
REPLAY_DELAY = timedelta(minutes=10)


def replay_requested(value: str | None = None) -> bool:
    """True when the clock setting (default: USAGEBILL_MARKETPLACE_NOW) is `replay`."""
    value = os.environ.get("USAGEBILL_MARKETPLACE_NOW") if value is None else value
    return (value or "").strip().lower() == REPLAY


def replay_now(hour_start: datetime) -> datetime:
    """The moment a replayed hour is reported: its end + 10 minutes (when the schedule would run)."""
    return hour_floor(hour_start) + HOUR + REPLAY_DELAY


def configured_now(value: str | None = None) -> datetime:
    """The fixed clock of a run: the RFC 3339 setting (default: USAGEBILL_MARKETPLACE_NOW), else the
    wall clock. `replay` has no single moment (each hour has its own): see replay_requested()."""
    value = os.environ.get("USAGEBILL_MARKETPLACE_NOW") if value is None else value
    if not value:
        return datetime.now(UTC)
    if replay_requested(value):
        raise ValueError(
            "USAGEBILL_MARKETPLACE_NOW=replay gives every hour its own clock (hour end + 10 minutes); "
            "pass replay=True to report() instead of asking for one fixed time"
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"USAGEBILL_MARKETPLACE_NOW={value!r} is not RFC 3339, e.g. 2026-10-31T05:10:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_catalog(log: Callable[[str], None] = print) -> tuple[OfferingCatalog, list[MarketplaceIdentity]]:
    """Offerings + identities from the catalog dir; missing files are seeded from the examples (demo)."""
    directory = catalog_dir()
    for name in (OFFERINGS_FILE, CUSTOMERS_FILE):
        if not (directory / name).exists():
            directory.mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / name, directory / name)
            log(f"{directory / name} did not exist: copied the example from {EXAMPLES / name}; edit it")
    catalog = load_offerings(directory / OFFERINGS_FILE)
    return catalog, load_identities(catalog, directory / CUSTOMERS_FILE)


def load_fx(log: Callable[[str], None] = print) -> FxRates:
    """The dated rates into listing currencies (data/catalog/marketplace_fx_rates.csv; the example is
    copied there when missing)."""
    directory = catalog_dir()
    if not (directory / FX_FILE).exists():
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / FX_FILE, directory / FX_FILE)
        log(
            f"{directory / FX_FILE} did not exist: copied the example rates from {EXAMPLES / FX_FILE}; replace them"
        )
    return load_fx_rates(directory / FX_FILE)


RECONCILIATION = "marketplace.fct_marketplace_reconciliation"


def blocked_customers(marketplace: str, path: Path | None = None) -> set[tuple[str, str]]:
    """(tenant_id, customer_id) of the customers whose marketplace reconciliation disagrees
    (blocks_export): their exports wait. Before the reconciliation mart is first built nothing is
    blocked."""
    path = Path(path) if path else warehouse_path()
    if not path.exists():
        return set()
    with duckdb.connect(str(path), read_only=True) as con:
        if not table_exists(con, "marketplace", "fct_marketplace_reconciliation"):
            return set()
        rows = con.execute(
            f"select distinct tenant_id, customer_id from {RECONCILIATION} where marketplace = ? and blocks_export",
            [marketplace],
        ).fetchall()
    return {(str(tenant), str(customer)) for tenant, customer in rows}


def load_catalog_tables(log: Callable[[str], None] = print) -> dict[str, int]:
    """Offering catalog + identities -> raw/marketplace/ Parquet."""
    catalog, identities = load_catalog(log)
    return write_catalog_tables(catalog, identities, fx=load_fx(log))


def load_feeds(log: Callable[[str], None] = print) -> dict[str, int]:
    """Revenue feeds (data/marketplace/<feed>*.csv, else the samples) -> raw/marketplace/ Parquet."""
    feed_dir = data_dir() / "marketplace"
    files: dict[str, list[Path]] = {}
    for kind in FEEDS:
        found = sorted(feed_dir.glob(f"{kind}*.csv")) if feed_dir.exists() else []
        if not found:
            found = [EXAMPLES / f"{kind}.csv"]
            log(f"no {feed_dir}/{kind}*.csv: loading the sample {found[0].name}")
        files[kind] = found
    return load_revenue_feeds(files)


def load_raw(log: Callable[[str], None] = print) -> dict[str, int]:
    return load_catalog_tables(log) | load_feeds(log)


@contextmanager
def transport_for(
    marketplace: str,
    catalog: OfferingCatalog,
    identities: list[MarketplaceIdentity],
    now: datetime | Callable[[], datetime],
    mode: str | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[Transport]:
    """The marketplace's transport; `now` is a fixed moment or a clock read at every call (replay)."""
    mode = mode or os.environ.get("USAGEBILL_MARKETPLACE_MODE", "live")
    clock: Callable[[], datetime] = now if callable(now) else (lambda: now)
    with ExitStack() as stack:
        if marketplace == "aws":
            from exports.marketplace.aws import AwsMeteringTransport, make_client

            endpoint = None
            if mode == "fake":
                from exports.fakes.aws_metering import FakeAwsMetering

                subscribed = {i.license_arn or i.customer_identifier or "" for i in identities}
                fake = stack.enter_context(
                    FakeAwsMetering(subscribed, catalog.window_hours["aws"], now=clock)
                )
                endpoint = fake.url
                os.environ.setdefault("AWS_ACCESS_KEY_ID", "fake")
                os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fake")
            yield AwsMeteringTransport(make_client(endpoint_url=endpoint), now=clock, log=log)
        elif marketplace == "azure":
            from exports.marketplace.azure import AzureMeteringTransport, EntraToken

            if mode == "fake":
                import requests

                from exports.fakes.azure_metering import AzureSubscription, FakeAzureMetering

                subs = [
                    AzureSubscription(
                        i.resource_id or "", i.plan_id or "", {d.name for d in catalog.dimensions("azure")}
                    )
                    for i in identities
                ]
                fake = stack.enter_context(
                    FakeAzureMetering(
                        "fake-tenant",
                        "fake-client",
                        "fake-secret",
                        subs,
                        catalog.window_hours["azure"],
                        now=clock,
                    )
                )
                session = requests.Session()
                token = EntraToken(session, fake.url, "fake-tenant", "fake-client", "fake-secret")
                yield AzureMeteringTransport(
                    endpoint=fake.url, token=token, session=session, now=clock, log=log
                )
            else:
                yield AzureMeteringTransport(now=clock, log=log)
        elif marketplace == "google":
            from exports.marketplace.google import GoogleServiceControlTransport

            if mode == "fake":
                from google.oauth2 import service_account

                from exports.fakes.google_servicecontrol import (
                    SCOPE,
                    SERVICE_ACCOUNT_EMAIL,
                    FakeServiceControl,
                    new_service_account_key,
                    service_account_info,
                )

                services = {
                    listing.service_name for listing in catalog.listings if listing.marketplace == "google"
                }
                if len(services) != 1:
                    raise ValueError(
                        "fake mode serves one Google service; the catalog lists "
                        f"{sorted(s or '' for s in services)}"
                    )
                private_pem, public_pem = new_service_account_key()
                fake = stack.enter_context(
                    FakeServiceControl(
                        services.pop() or "",
                        SERVICE_ACCOUNT_EMAIL,
                        public_pem,
                        {i.usage_reporting_id or "" for i in identities},
                        {d.name for d in catalog.dimensions("google")},
                        catalog.window_hours["google"],
                        now=clock,
                    )
                )
                credentials = service_account.Credentials.from_service_account_info(
                    service_account_info(private_pem, f"{fake.url}/token"), scopes=[SCOPE]
                )
                yield GoogleServiceControlTransport(
                    endpoint=fake.url, credentials=credentials, now=clock, log=log
                )
            else:
                yield GoogleServiceControlTransport(now=clock, log=log)
        else:
            raise ValueError(f"unknown marketplace {marketplace!r}: use aws, azure or google")


def report(
    marketplace: str,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    mode: str | None = None,
    log: Callable[[str], None] = print,
    billed: BilledSeries | None = None,
    replay: bool | None = None,
) -> RunSummary:
    """Report the hours [start, end) to one marketplace from the warehouse, exactly once per key.

    Replay (default: USAGEBILL_MARKETPLACE_NOW=replay; fake mode only): every hour is planned and sent
    at its own clock, replay_now(hour), in order, through one transport (the fakes keep their state).
    """
    replay = replay_requested() if replay is None else replay
    mode = mode or os.environ.get("USAGEBILL_MARKETPLACE_MODE", "live")
    if replay and mode != "fake":
        raise ValueError(
            f"replay (USAGEBILL_MARKETPLACE_NOW=replay) needs USAGEBILL_MARKETPLACE_MODE=fake, not {mode!r}: "
            "a real marketplace judges its window by its own clock; unset USAGEBILL_MARKETPLACE_NOW"
        )
    if replay and now is not None:
        raise ValueError("give either now or replay=True, not both")
    if not replay:
        now = now or configured_now()
    catalog, identities = load_catalog(log)
    mine = [i for i in identities if i.marketplace == marketplace]
    hours = []
    hour = hour_floor(start)
    while hour < end:
        hours.append(hour)
        hour += HOUR
    if not mine:
        log(
            f"{marketplace}: no customer has a {marketplace} identity in {catalog_dir() / CUSTOMERS_FILE}; "
            "nothing to report"
        )
        return RunSummary(marketplace, hours=len(hours))
    if billed is None:
        try:
            since = min((s for i in mine for s, _ in i.subscribed_intervals()), default=start)
            billed = BilledSeries(
                read_billed_hours(min(since, start), end + timedelta(hours=1)), load_fx(log)
            )
        except Exception as exc:  # duckdb.CatalogException and friends
            raise RuntimeError(
                f"cannot read the billed hours ({exc}); build the dbt model "
                "intermediate.int_marketplace__billed_hourly first (dbt build -s "
                "+int_marketplace__billed_hourly)"
            ) from exc
    if replay:
        return _replay(marketplace, hours, catalog, mine, billed, mode, log)
    assert now is not None
    with transport_for(marketplace, catalog, mine, now, mode, log) as transport:
        return report_hours(
            marketplace,
            hours,
            catalog=catalog,
            identities=mine,
            billed=billed,
            ledger=Ledger(run_id=f"{marketplace}-{now.strftime('%Y%m%dT%H%M%S')}"),
            transport=transport,
            now=now,
            log=log,
            blocked=blocked_customers(marketplace),
        )


def _replay(
    marketplace: str,
    hours: list[datetime],
    catalog: OfferingCatalog,
    identities: list[MarketplaceIdentity],
    billed: BilledSeries,
    mode: str,
    log: Callable[[str], None],
) -> RunSummary:
    """Each hour reported at replay_now(hour), in order, as the hourly schedule would have done."""
    total = RunSummary(marketplace)
    if not hours:
        return total
    moment = [replay_now(hours[0])]
    ledger = Ledger(run_id=f"{marketplace}-replay-{moment[0].strftime('%Y%m%dT%H%M%S')}")
    log(f"{marketplace}: replay: each hour judged at its end + {REPLAY_DELAY.seconds // 60} minutes")
    blocked = blocked_customers(marketplace)
    total.blocked = tuple(sorted(blocked))
    refused: dict[tuple[str, str], str] = {}
    progress = Progress(f"{marketplace} usage report", total=len(hours), emit=log, unit="hours")
    with transport_for(marketplace, catalog, identities, lambda: moment[0], mode, log) as transport:
        for hour in hours:
            progress.advance()  # counted when the hour starts: a refused hour is done too
            moment[0] = replay_now(hour)
            try:
                one = report_hours(
                    marketplace,
                    [hour],
                    catalog=catalog,
                    identities=[i for i in identities if i.customer_ref not in refused],
                    billed=billed,
                    ledger=ledger,
                    transport=transport,
                    now=moment[0],
                    log=log,
                    blocked=blocked,
                )
            except CurrencyConversionError as exc:  # the others were reported; go on without them
                refused.update(exc.refused)
                continue
            total.hours += one.hours
            total.planned += one.planned
            total.recovered += one.recovered
            total.calls += one.calls
            total.states.update(one.states)
    progress.finish()
    log(str(total))
    if refused:
        raise CurrencyConversionError(
            f"{marketplace}: usage of {len(refused)} customer(s) was NOT reported (the others were):\n"
            + "\n".join(refused.values()),
            refused,
        )
    return total


def _hour(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") + (":00" if len(text) == 13 else ""))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exports.marketplace.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="report hours [start, end) to a marketplace")
    rep.add_argument("--marketplace", required=True, choices=["aws", "azure", "google"])
    rep.add_argument("--start", required=True, help="first hour, e.g. 2026-10-31T00 (UTC)")
    rep.add_argument("--end", required=True, help="exclusive end hour")
    rep.add_argument("--mode", choices=["live", "fake"], default=None)
    sub.add_parser("load", help="catalog YAML + revenue feeds -> raw/marketplace/")
    args = parser.parse_args(argv)
    if args.command == "load":
        print(load_raw())
        return 0
    summary = report(args.marketplace, _hour(args.start), _hour(args.end), mode=args.mode)
    return 0 if not summary.states.get("failed") else 1


if __name__ == "__main__":
    raise SystemExit(main())
