"""Offering catalog (marketplace_offerings.yaml) and customer marketplace identities
(marketplace_customers.yaml), validated. Every error names the file, the path inside it and the rule.

Amounts are strings holding exact decimals ("0.01"); a YAML float is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from usagebill.paths import catalog_dir
from usagebill.tenants import DEFAULT_TENANT, qualified_customer, tenant_name_error

MARKETPLACES = ("aws", "azure", "google")
STATES = ("subscribed", "unsubscribed", "suspended")
OFFERINGS_FILE = "marketplace_offerings.yaml"
CUSTOMERS_FILE = "marketplace_customers.yaml"

# Contract limits (docs/marketplaces.md, ../shared/api-contracts.md)
_AWS_DIMENSION = re.compile(r"^[\s\S]{1,255}$")
_AWS_ACCOUNT = re.compile(r"^\d{12}$")
_AWS_LICENSE_ARN = re.compile(r"^arn:aws[a-z-]*:license-manager::\d{12}:license:l-[0-9a-z]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DEFAULT_WINDOW_HOURS = {"aws": 6, "azure": 24, "google": 2}
# Minutes between an hour's end and the run after the one that first reports it: the hourly schedule runs
# at 10 past the hour, so an hour is first reported 10 min after it ends and recovered (resent) by the
# next run, 70 min after it ends. Every window must outlast this, or recovery never runs inside it.
DEFAULT_RUN_INTERVAL_MINUTES = 70


class MarketplaceCatalogError(ValueError):
    """One or more problems in a marketplace YAML file; `problems` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid marketplace catalog:\n  "
            + "\n  ".join(problems)
            + "\nFix the file(s) above (see docs/marketplaces.md for the format) and re-run."
        )


@dataclass(frozen=True)
class Dimension:
    """One marketplace dimension (AWS dimension, Azure dimension, Google metric) of an offering."""

    marketplace: str
    offering_id: str
    name: str  # the marketplace's dimension id / Google metric name
    meter_id: str  # usagebill meter it reports
    unit: str  # the marketplace unit label (e.g. "usd_cent", "gpu_hour")
    unit_price: Decimal  # marketplace list price per marketplace unit, in `currency`
    currency: str
    meter_units_per_unit: Decimal | None  # meter units in one marketplace unit (parity only)
    filters: tuple[tuple[str, str], ...] = ()  # usage dimension -> value this dimension covers


@dataclass(frozen=True)
class Listing:
    """An offering on one marketplace: product/offer/plan ids and its dimensions."""

    marketplace: str
    offering_id: str
    plans: tuple[str, ...]
    product_id: str  # AWS product id / Azure offer id / Google service name
    product_code: str | None  # AWS legacy ProductCode (CustomerIdentifier integrations)
    plan_id: str | None  # Azure planId / Google plan
    service_name: str | None  # Google Service Control service
    dimensions: tuple[Dimension, ...]


@dataclass(frozen=True)
class OfferingCatalog:
    currency: str
    parity_tolerance_pct: Decimal
    listing_fee_pct: dict[str, Decimal]
    window_hours: dict[str, int]
    listings: tuple[Listing, ...]
    source_file: str = ""
    run_interval_minutes: int = DEFAULT_RUN_INTERVAL_MINUTES

    def listing(self, marketplace: str, offering_id: str) -> Listing:
        for listing in self.listings:
            if listing.marketplace == marketplace and listing.offering_id == offering_id:
                return listing
        raise KeyError(f"offering {offering_id!r} has no {marketplace} listing in {self.source_file}")

    def dimensions(self, marketplace: str | None = None) -> list[Dimension]:
        return [
            d
            for listing in self.listings
            for d in listing.dimensions
            if marketplace is None or d.marketplace == marketplace
        ]


@dataclass(frozen=True)
class StatePeriod:
    state: str
    since: datetime  # UTC, inclusive


@dataclass(frozen=True)
class MarketplaceIdentity:
    """A usagebill customer's identity on one marketplace."""

    customer_id: str
    marketplace: str
    offering_id: str
    # aws
    account_id: str | None = None
    license_arn: str | None = None
    customer_identifier: str | None = None  # legacy AWS (with the listing's product_code)
    # azure
    resource_id: str | None = None  # SaaS subscription id
    plan_id: str | None = None
    # google
    usage_reporting_id: str | None = None
    states: tuple[StatePeriod, ...] = field(default_factory=tuple)
    # the usagebill tenant of the customer: customer ids are unique per tenant only (issue 11)
    tenant_id: str = DEFAULT_TENANT

    @property
    def customer_ref(self) -> tuple[str, str]:
        """(tenant_id, customer_id): the customer's identity in usagebill."""
        return (self.tenant_id, self.customer_id)

    @property
    def customer_label(self) -> str:
        """The customer for messages: `customer` in the default tenant, else `tenant/customer`."""
        return qualified_customer(self.tenant_id, self.customer_id)

    @property
    def marketplace_customer(self) -> str:
        """The id the marketplace knows the customer by (for the ledger and logs)."""
        return (
            self.license_arn or self.customer_identifier or self.resource_id or self.usage_reporting_id or ""
        )

    def state_at(self, moment: datetime) -> str:
        current = "unsubscribed"
        for period in self.states:
            if period.since <= moment:
                current = period.state
        return current

    def subscribed_for_hour(self, hour_start: datetime) -> bool:
        """Subscribed at the start of the hour and not unsubscribed/suspended before it ends."""
        from datetime import timedelta

        end = hour_start + timedelta(hours=1)
        if self.state_at(hour_start) != "subscribed":
            return False
        return all(p.state == "subscribed" for p in self.states if hour_start < p.since < end)

    def subscribed_intervals(self) -> list[tuple[datetime, datetime | None]]:
        """Whole hours [first, end) in which the customer was subscribed (end None = still subscribed).
        Only usage of these hours is reported to the marketplace."""
        from datetime import timedelta

        out: list[tuple[datetime, datetime | None]] = []
        for i, period in enumerate(self.states):
            if period.state != "subscribed":
                continue
            start = period.since.replace(minute=0, second=0, microsecond=0)
            if start < period.since:
                start += timedelta(hours=1)
            until = self.states[i + 1].since if i + 1 < len(self.states) else None
            end = until.replace(minute=0, second=0, microsecond=0) if until else None
            if end is None or end > start:
                out.append((start, end))
        return out


# ---------------------------------------------------------------- helpers


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def err(self, path: str, rule: str) -> None:
        self.problems.append(f"{self.file}: {path}: {rule}")

    def _given(self, obj: dict[str, Any], key: str, path: str, required: bool, example: str = "") -> Any:
        """obj[key], or None when absent (a problem when `required`; `example`: what to write)."""
        value = obj.get(key)
        if value is None and required:
            self.err(f"{path}.{key}", f"is required{example}")
        return value

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str | None:
        value = self._given(obj, key, path, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.err(f"{path}.{key}", f"must be a non-empty string, got {value!r}")
            return None
        if pattern is not None and not pattern.match(value):
            self.err(f"{path}.{key}", f"{value!r} does not match {hint or pattern.pattern}")
            return None
        return value

    def decimal(
        self, obj: dict[str, Any], key: str, path: str, required: bool = True, positive: bool = True
    ) -> Decimal | None:
        value = self._given(obj, key, path, required, ' (a decimal string such as "0.01")')
        if value is None:
            return None
        if isinstance(value, float):
            self.err(
                f"{path}.{key}",
                f'must be a decimal string such as "{value}", not a YAML float '
                "(floats cannot hold prices exactly): quote it",
            )
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.err(f"{path}.{key}", f"must be a decimal string, got {value!r}")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.err(f"{path}.{key}", f"{value!r} is not a decimal number")
            return None
        if not number.is_finite() or (positive and number <= 0) or number < 0:
            self.err(f"{path}.{key}", f"must be {'> 0' if positive else '>= 0'}, got {value!r}")
            return None
        return number

    def mapping(self, obj: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(obj, dict):
            self.err(path, f"must be a mapping, got {type(obj).__name__}")
            return None
        return obj

    def sequence(self, obj: Any, path: str) -> list[Any]:
        if not isinstance(obj, list):
            self.err(path, f"must be a list, got {type(obj).__name__}")
            return []
        return obj

    def entries(self, obj: dict[str, Any], key: str, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """(path, entry) for each mapping in the list obj[key]; a problem for a non-list or non-mapping."""
        where = f"{path}.{key}" if path else key
        for i, raw in enumerate(self.sequence(obj.get(key), where)):
            entry = self.mapping(raw, f"{where}[{i}]")
            if entry is not None:
                yield f"{where}[{i}]", entry


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise MarketplaceCatalogError(
            [f"{path}: file not found (copy usagebill/marketplace_examples/{path.name} there to start)"]
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MarketplaceCatalogError([f"{path}: not valid YAML: {exc}"]) from None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# ---------------------------------------------------------------- offerings


def load_offerings(path: Path | None = None) -> OfferingCatalog:
    """Read and validate marketplace_offerings.yaml (default: the catalog dir)."""
    path = path or catalog_dir() / OFFERINGS_FILE
    doc = _read_yaml(path)
    c = _Checker(str(path))
    root = c.mapping(doc, "(document)") or {}
    currency = c.string(root, "currency", "(document)") or "USD"
    tolerance = c.decimal(root, "parity_tolerance_pct", "(document)", positive=False) or Decimal("0")
    fees: dict[str, Decimal] = {}
    fee_doc = c.mapping(root.get("listing_fee_pct", {}), "listing_fee_pct") or {}
    for mp in MARKETPLACES:
        fee = c.decimal(fee_doc, mp, "listing_fee_pct", positive=False)
        if fee is not None and fee >= 100:
            c.err(f"listing_fee_pct.{mp}", f"must be < 100 (a percent), got {fee}")
        fees[mp] = fee if fee is not None else Decimal("0")
    for key in fee_doc:
        if key not in MARKETPLACES:
            c.err(f"listing_fee_pct.{key}", f"unknown marketplace; use one of {', '.join(MARKETPLACES)}")
    windows = dict(DEFAULT_WINDOW_HOURS)
    window_doc = c.mapping(root.get("window_hours", {}), "window_hours") or {}
    for key, value in window_doc.items():
        if key not in MARKETPLACES:
            c.err(f"window_hours.{key}", f"unknown marketplace; use one of {', '.join(MARKETPLACES)}")
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 24 * 31:
            c.err(f"window_hours.{key}", f"must be a whole number of hours >= 1, got {value!r}")
        else:
            windows[key] = value
    interval = root.get("run_interval_minutes", DEFAULT_RUN_INTERVAL_MINUTES)
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 24 * 60:
        c.err("run_interval_minutes", f"must be a whole number of minutes 1..1440, got {interval!r}")
        interval = DEFAULT_RUN_INTERVAL_MINUTES
    for mp, hours in windows.items():
        # google's window runs from the window END, aws/azure's from the hour START (one hour earlier)
        usable = hours * 60 - (0 if mp == "google" else 60)
        if usable <= interval:
            c.err(
                f"window_hours.{mp}",
                f"{hours} h leaves {usable} min after the hour ends, not more than run_interval_minutes "
                f"({interval}): a failed report would never be retried inside the window; raise the window "
                "or run the schedule more often",
            )

    listings: list[Listing] = []
    seen_dims: set[tuple[str, str, str]] = set()
    seen_offerings: set[str] = set()
    for opath, off in c.entries(root, "offerings"):
        offering_id = c.string(off, "id", opath)
        if offering_id in seen_offerings:
            c.err(f"{opath}.id", f"duplicate offering id {offering_id!r}")
        seen_offerings.add(offering_id or "")
        plans = tuple(str(p) for p in c.sequence(off.get("plans"), f"{opath}.plans"))
        if not plans:
            c.err(f"{opath}.plans", "must list at least one usagebill plan id")
        mps = c.mapping(off.get("marketplaces"), f"{opath}.marketplaces") or {}
        for mp, mraw in mps.items():
            mpath = f"{opath}.marketplaces.{mp}"
            if mp not in MARKETPLACES:
                c.err(mpath, f"unknown marketplace; use one of {', '.join(MARKETPLACES)}")
                continue
            m = c.mapping(mraw, mpath)
            if m is None:
                continue
            product_id = c.string(m, "product_id", mpath)
            product_code = c.string(m, "product_code", mpath, required=False)
            plan_id = c.string(m, "plan_id", mpath, required=(mp == "azure"))
            service = c.string(m, "service_name", mpath, required=(mp == "google"))
            dims: list[Dimension] = []
            for dpath, d in c.entries(m, "dimensions", mpath):
                name = c.string(
                    d, "name", dpath, pattern=_AWS_DIMENSION if mp == "aws" else None, hint="1-255 characters"
                )
                meter = c.string(d, "meter", dpath)
                unit = c.string(d, "unit", dpath)
                price = c.decimal(d, "unit_price", dpath)
                per_unit = c.decimal(d, "meter_units_per_unit", dpath, required=False)
                filters_doc = c.mapping(d.get("filters", {}) or {}, f"{dpath}.filters") or {}
                filters = tuple(sorted((str(k), str(v)) for k, v in filters_doc.items()))
                if mp == "google" and name and service and not name.startswith(service + "/"):
                    c.err(
                        f"{dpath}.name",
                        f"a Google metric name must start with the service name "
                        f"{service + '/'!r}, got {name!r}",
                    )
                if name and (mp, offering_id or "", name) in seen_dims:
                    c.err(f"{dpath}.name", f"duplicate dimension {name!r} in this listing")
                seen_dims.add((mp, offering_id or "", name or ""))
                if None not in (name, meter, unit, price, offering_id):
                    dims.append(
                        Dimension(
                            mp,
                            offering_id,
                            name,
                            meter,
                            unit,
                            price,
                            currency,  # type: ignore[arg-type]
                            per_unit,
                            filters,
                        )
                    )
            if not m.get("dimensions"):
                c.err(f"{mpath}.dimensions", "must list at least one dimension")
            if offering_id and product_id:
                listings.append(
                    Listing(mp, offering_id, plans, product_id, product_code, plan_id, service, tuple(dims))
                )
    if c.problems:
        raise MarketplaceCatalogError(c.problems)
    return OfferingCatalog(currency, tolerance, fees, windows, tuple(listings), str(path), interval)


# ---------------------------------------------------------------- customers


def load_identities(catalog: OfferingCatalog, path: Path | None = None) -> list[MarketplaceIdentity]:
    """Read and validate marketplace_customers.yaml against the offering catalog."""
    path = path or catalog_dir() / CUSTOMERS_FILE
    doc = _read_yaml(path)
    c = _Checker(str(path))
    root = c.mapping(doc, "(document)") or {}
    known = {(listing.marketplace, listing.offering_id): listing for listing in catalog.listings}
    identities: list[MarketplaceIdentity] = []
    seen: set[tuple[str, str, str]] = set()
    owners: dict[tuple[str, str, str], tuple[MarketplaceIdentity, str]] = {}
    for cpath, cust in c.entries(root, "customers"):
        customer_id = c.string(cust, "customer_id", cpath)
        # customer ids are unique per tenant only; no tenant_id: the default tenant (as in the catalog)
        tenant_id = cust.get("tenant_id", DEFAULT_TENANT)
        if (problem := tenant_name_error(tenant_id)) is not None:
            c.err(f"{cpath}.tenant_id", problem)
            continue
        for mp in cust:
            if mp not in ("customer_id", "tenant_id") and mp not in MARKETPLACES:
                c.err(
                    f"{cpath}.{mp}",
                    f"unknown key; use customer_id, tenant_id and one of {', '.join(MARKETPLACES)}",
                )
        for mp in MARKETPLACES:
            if mp not in cust:
                continue
            mpath = f"{cpath}.{mp}"
            m = c.mapping(cust[mp], mpath)
            if m is None or customer_id is None:
                continue
            if (tenant_id, customer_id, mp) in seen:
                c.err(
                    mpath, f"customer {qualified_customer(tenant_id, customer_id)!r} is listed twice for {mp}"
                )
            seen.add((tenant_id, customer_id, mp))
            offering = c.string(m, "offering", mpath)
            listing = known.get((mp, offering or ""))
            if offering and listing is None:
                c.err(f"{mpath}.offering", f"{offering!r} has no {mp} listing in {catalog.source_file}")
            states: list[StatePeriod] = []
            for j, sraw in enumerate(c.sequence(m.get("states"), f"{mpath}.states")):
                spath = f"{mpath}.states[{j}]"
                s = c.mapping(sraw, spath) or {}
                state = s.get("state")
                since = _moment(s.get("since"))
                if state not in STATES:
                    c.err(f"{spath}.state", f"must be one of {', '.join(STATES)}, got {state!r}")
                elif since is None:
                    c.err(f"{spath}.since", f"must be a date or RFC 3339 timestamp, got {s.get('since')!r}")
                else:
                    if states and since <= states[-1].since:
                        c.err(f"{spath}.since", "states must be in increasing `since` order")
                    states.append(StatePeriod(state, since))
            if not states:
                c.err(f"{mpath}.states", "must list at least one {state, since}")
            ident: dict[str, Any] = {}
            if mp == "aws":
                for name, pattern, hint in (
                    ("account_id", _AWS_ACCOUNT, "a 12-digit AWS account id (quote it)"),
                    ("license_arn", _AWS_LICENSE_ARN, "arn:aws:license-manager::<account>:license:l-<id>"),
                ):
                    ident[name] = c.string(m, name, mpath, required=False, pattern=pattern, hint=hint)
                ident["customer_identifier"] = c.string(m, "customer_identifier", mpath, required=False)
                new_style = ident["account_id"] is not None or ident["license_arn"] is not None
                if new_style and ident["customer_identifier"]:
                    c.err(
                        mpath,
                        "give either account_id + license_arn (new) or customer_identifier "
                        "(legacy), not both: AWS takes CustomerIdentifier XOR CustomerAWSAccountId",
                    )
                elif new_style and not (ident["account_id"] and ident["license_arn"]):
                    c.err(mpath, "account_id and license_arn go together (new-style SaaS integration)")
                elif (
                    not new_style
                    and not ident["customer_identifier"]
                    and "account_id" not in m
                    and "license_arn" not in m
                ):
                    c.err(mpath, "needs account_id + license_arn, or customer_identifier (legacy)")
                if ident["customer_identifier"] and listing is not None and not listing.product_code:
                    c.err(
                        f"{mpath}.customer_identifier",
                        f"legacy CustomerIdentifier needs a product_code on "
                        f"offering {offering!r}'s aws listing",
                    )
            elif mp == "azure":
                ident["resource_id"] = c.string(
                    m, "resource_id", mpath, pattern=_UUID, hint="the SaaS subscription id (a GUID)"
                )
                ident["plan_id"] = c.string(m, "plan_id", mpath, required=False) or (
                    listing.plan_id if listing else None
                )
            else:
                ident["usage_reporting_id"] = c.string(m, "usage_reporting_id", mpath)
            if offering and customer_id and listing is not None:
                identity = MarketplaceIdentity(
                    customer_id, mp, offering, states=tuple(states), tenant_id=tenant_id, **ident
                )
                owner = owners.setdefault((mp, offering, identity.marketplace_customer), (identity, mpath))
                if owner[0] is not identity and identity.marketplace_customer:
                    # the marketplace knows one buyer: its usage can be billed to one usagebill customer only
                    c.err(
                        mpath,
                        f"{mp} customer {identity.marketplace_customer!r} on offering {offering!r} is already "
                        f"mapped to customer {owner[0].customer_label!r} ({owner[1]}): a marketplace "
                        "identity belongs to exactly one customer of one tenant",
                    )
                identities.append(identity)
    if c.problems:
        raise MarketplaceCatalogError(c.problems)
    return identities
