"""Deterministic demo dataset: a fictional GPU cloud (`usagebill demo-data`).

Everything comes from one `random.Random(seed)` using only `random()` (the one method Python
guarantees to reproduce across versions), so the same seed and size give byte-identical files.

Output under OUT (default data/):
- catalog/customers.yaml, catalog/subscriptions.yaml (format: docs/dev/catalog-v1.md), plus the
  static catalog files copied from usagebill/catalog/examples/gpu_cloud/ when that folder exists;
- landing/usage/arrival_date=YYYY-MM-DD/events-NNNN.jsonl (some days .csv or .parquet), each file's
  mtime set to 23:55 UTC of its arrival day (the landing metadata the loader reads);
- costs/focus-YYYY-MM.csv: a FOCUS-style cost export (GPU cost = $0.0087 per 1K a100-equivalent
  ms, exactly, every day; h100 ms weigh 2, l4 ms 0.4; plus fixed support and control plane).

On purpose: ~0.5% exact duplicate events (also across days), ~0.2% malformed events (bad
timestamp, negative quantity, missing customer, non-numeric quantity), ~1% late events (landing
1-5 days after their event day).

Sizes: `tiny` (below), `small` (~200 customers, 2026-05-01 .. 2026-11-01, ~200k events, the
demo default), `bench --events N` (millions, streamed day by day with bounded memory).

The tiny dataset (hand-computable; window 2026-10-29 .. 2026-11-01, always the same)
====================================================================================
Customers (created_at 2026-10-01) and subscriptions (start 2026-10-01, billing_anchor_day 1):

| customer | country/currency | notes                       | subscription | plan      | end_date   |
|----------|------------------|-----------------------------|--------------|-----------|------------|
| cus_a    | US / USD         | business                    | sub_a        | payg      | null       |
| cus_b    | US / USD         | business                    | sub_b        | starter   | null       |
| cus_c    | DE / EUR         | business, VAT DE123456789   | sub_c        | payg_eur  | null       |
| cus_d    | JP / JPY         | individual                  | sub_d        | payg_jpy  | null       |
| cus_e    | US / USD         | business, tax_exempt        | sub_e        | payg      | 2026-10-31 |

Unique valid events (541; ingestion/fixtures/tiny_usage.jsonl lists them exactly), days
D1=2026-10-29, D2=2026-10-30, D3=2026-10-31 (UTC):
- cus_a: gpu_ms 2457 (a100, us-east-1) at 2026-10-30T13:47:00Z, id evt_cus_a_gpu_0001  -> 2,457 ms
         api_calls: 10 a day at hh:05:00Z, hh 0..9                        -> 30 calls
         storage_gb "1.5" every hour at hh:00:00Z                         -> 72 samples, 108 GB-hours
- cus_b: gpu_ms 1000000 (h100, us-east-1) every hour at hh:30:00Z      -> 72 events, 72,000,000 ms
         api_calls: 20 a day at hh:10:00Z, hh 0..19                       -> 60 calls
         storage_gb "100" every hour                                      -> 72 samples, 7,200 GB-hours
- cus_c: gpu_ms 500000 (l4, eu-central-1) at UTC hh 0,4,8,12,16,20 (written with +01:00)
                                                                          -> 18 events, 9,000,000 ms
         api_calls: 5 a day at hh:20:00Z, hh 0..4                         -> 15 calls
         storage_gb "0.25" every hour                                     -> 72 samples, 18 GB-hours
- cus_d: gpu_ms 2000000 (a100, ap-northeast-1) at UTC 01:00, 09:00, 17:00 (written with +09:00)
                                                                          -> 9 events, 18,000,000 ms
         storage_gb "2" every hour                                        -> 72 samples, 144 GB-hours
- cus_e: gpu_ms 100000 (l4, us-west-2) every hour at hh:45:00Z on D1 and D2 only
                                                                          -> 48 events, 4,800,000 ms
Totals: gpu_ms 148 events (2,457 + 72,000,000 + 9,000,000 + 18,000,000 + 4,800,000 =
103,802,457 ms), api_calls 105 events, storage_gb 288 samples (GB-hours 108 + 7,200 + 18 + 144 =
7,470). Hourly gauge samples hold for one hour, so GB-hours = value x 72.

Landing files (548 records = 541 + 3 duplicates + 4 malformed):
- arrival_date=2026-10-29/events-0001.jsonl: D1 events except the two late ones below.
- arrival_date=2026-10-30/events-0001.jsonl: D2 events except cus_c's, plus late cus_b gpu
  D1 23:30, plus duplicate of cus_b gpu D1 00:30 (across days), plus malformed #1 and #2.
- arrival_date=2026-10-30/events-0002.csv: cus_c's D2 events (6 gpu, 5 api, 24 storage = 35 rows).
- arrival_date=2026-10-31/events-0001.jsonl: D3 events except storage, plus late cus_d gpu D1
  17:00 (2 days late), duplicate of cus_a api D3 00:05 (same file), duplicate of cus_c storage
  D2 00:00, plus malformed #3 and #4.
- arrival_date=2026-10-31/events-0002.parquet: D3 storage samples (4 x 24 = 96 rows).
Malformed (quarantined by the loader): #1 timestamp "2026-10-30 12:00:00" (rfc3339_with_offset),
#2 quantity "-5" (non_negative), #3 no customer_id (required), #4 quantity "12ms" (decimal).
So the raw layer holds 544 valid rows (541 unique event ids) and 4 quarantined rows.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import msgspec
import yaml

from ingestion.event_record import event_record
from ingestion.events import EVENT_FIELDS
from usagebill.paths import PROJECT_ROOT

__all__ = [
    "DEFAULT_END",
    "GPU_COST_PER_1K_A100_MS",
    "GenerationReport",
    "generate",
    "main",
    "tiny_events",
]

DEFAULT_END = date(2026, 11, 1)  # exclusive: history 2026-05-01 .. 2026-11-01
HISTORY_MONTHS = 6
TINY_START = date(2026, 10, 29)
TINY_END = date(2026, 11, 1)
GPU_COST_PER_1K_A100_MS = Decimal("0.0087")
GPU_WEIGHT = {"a100": Decimal("1"), "h100": Decimal("2"), "l4": Decimal("0.4")}
API_COST_PER_CALL = Decimal("0.00021")
STORAGE_COST_PER_GB_HOUR = Decimal("0.0000275")
FIXED_MONTHLY_COSTS = (  # (service, sku, resource, monthly USD)
    ("Support", "support-enterprise", "support", Decimal("4500")),
    ("Control Plane", "control-plane", "k8s-control-plane", Decimal("2750")),
    ("Networking", "nat-gateway", "nat-gw-main", Decimal("810.50")),
)
FILE_MTIME_OFFSET = timedelta(hours=23, minutes=55)
CATALOG_EXAMPLES = PROJECT_ROOT / "usagebill" / "catalog" / "examples" / "gpu_cloud"

_ENC = msgspec.json.Encoder(decimal_format="number")


# --------------------------------------------------------------------------- model


def catalog_row(item: Any, last_field: str) -> dict[str, Any]:
    """The catalog YAML item of a dataclass: its fields in order, up to and including `last_field`."""
    names = [f.name for f in fields(item)]
    return {name: getattr(item, name) for name in names[: names.index(last_field) + 1]}


@dataclass
class Customer:
    id: str
    name: str
    email: str
    country: str
    currency: str
    customer_type: str
    tax_id: str | None
    tax_exempt: bool
    created_at: date
    address: dict[str, str]
    # usage profile (not written to the catalog)
    gpu_types: tuple[str, ...] = ("a100",)
    region: str = "us-east-1"
    gpu_scale: float = 1.0
    api_per_day: int = 0
    storage_gb: float = 0.0
    offset_hours: int = 0

    def catalog_row(self) -> dict[str, Any]:
        return catalog_row(self, "address")  # the usage profile below it is not written


@dataclass
class Subscription:
    id: str
    customer_id: str
    plan_id: str
    start_date: date
    end_date: date | None
    billing_anchor_day: int = 1
    trial_days: int = 0

    def catalog_row(self) -> dict[str, Any]:
        return catalog_row(self, "trial_days")

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day < self.end_date)


@dataclass
class Landed:
    """One record as it lands: the event object (or a malformed one) and its landing day."""

    record: dict[str, Any]
    arrival: date
    fmt: str = "jsonl"  # jsonl | csv | parquet


@dataclass
class GenerationReport:
    size: str
    seed: int
    out: Path
    customers: int = 0
    subscriptions: int = 0
    events: int = 0  # unique valid events
    duplicates: int = 0
    malformed: int = 0
    late: int = 0
    files: int = 0
    cost_rows: int = 0
    catalog_copied: list[str] = field(default_factory=list)
    catalog_kept: list[str] = field(default_factory=list)  # user's files left untouched

    @property
    def records(self) -> int:
        return self.events + self.duplicates + self.malformed


# --------------------------------------------------------------------------- helpers


def _ts(moment: datetime, offset_hours: int = 0, millis: int | None = None) -> str:
    """RFC 3339 text of a UTC moment, written in the given offset."""
    local = moment + timedelta(hours=offset_hours)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if millis is not None:
        text += f".{millis:03d}"
    if offset_hours == 0:
        return text + "Z"
    sign = "+" if offset_hours > 0 else "-"
    return f"{text}{sign}{abs(offset_hours):02d}:00"


def _at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _event(
    event_id: str,
    customer_id: str,
    meter: str,
    timestamp: str,
    quantity: str | None,
    dimensions: dict[str, str] | None = None,
    source: str = "demo",
) -> dict[str, Any]:
    return event_record(
        event_id, customer_id, meter, timestamp, quantity, dimensions=dimensions, source=source
    )


class _Rng:
    """Only Random.random() is guaranteed stable across Python versions: build everything on it."""

    def __init__(self, seed: int) -> None:
        self._r = Random(seed)
        self.random = self._r.random

    def below(self, n: int) -> int:
        return min(int(self.random() * n), n - 1)

    def between(self, low: int, high: int) -> int:  # inclusive
        return low + self.below(high - low + 1)

    def choice(self, items: list[Any] | tuple[Any, ...]) -> Any:
        return items[self.below(len(items))]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def weighted(self, items: list[tuple[Any, float]]) -> Any:
        total = sum(w for _, w in items)
        u = self.random() * total
        for item, weight in items:
            u -= weight
            if u < 0:
                return item
        return items[-1][0]

    def poisson(self, mean: float) -> int:
        """Knuth's method for small means; normal approximation (rounded) above 30."""
        if mean <= 0:
            return 0
        if mean > 30:
            u1, u2 = max(self.random(), 1e-12), self.random()
            z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)
            return max(0, round(mean + z * math.sqrt(mean)))
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.random()
            if p <= limit:
                return k
            k += 1


# --------------------------------------------------------------------------- tiny


def _tiny_catalog() -> tuple[list[Customer], list[Subscription]]:
    created = date(2026, 10, 1)

    def cust(
        cid: str,
        name: str,
        country: str,
        currency: str,
        ctype: str,
        tax_id: str | None,
        exempt: bool,
        address: dict[str, str],
    ) -> Customer:
        return Customer(
            cid,
            name,
            f"billing@{cid.replace('_', '-')}.example",
            country,
            currency,
            ctype,
            tax_id,
            exempt,
            created,
            address,
        )

    customers = [
        cust(
            "cus_a",
            "Customer A Labs",
            "US",
            "USD",
            "business",
            None,
            False,
            {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        ),
        cust(
            "cus_b",
            "Bravo Robotics",
            "US",
            "USD",
            "business",
            None,
            False,
            {"line1": "200 Market St", "city": "San Francisco", "postal_code": "94105", "country": "US"},
        ),
        cust(
            "cus_c",
            "Cäsar Vision GmbH",
            "DE",
            "EUR",
            "business",
            "DE123456789",
            False,
            {"line1": "Unter den Linden 5", "city": "Berlin", "postal_code": "10117", "country": "DE"},
        ),
        cust(
            "cus_d",
            "Daichi Sato",
            "JP",
            "JPY",
            "individual",
            None,
            False,
            {"line1": "1-1 Chiyoda", "city": "Tokyo", "postal_code": "100-0001", "country": "JP"},
        ),
        cust(
            "cus_e",
            "Echo Research Foundation",
            "US",
            "USD",
            "business",
            None,
            True,
            {"line1": "9 College Ave", "city": "Boston", "postal_code": "02115", "country": "US"},
        ),
    ]
    plans = {"cus_a": "payg", "cus_b": "starter", "cus_c": "payg_eur", "cus_d": "payg_jpy", "cus_e": "payg"}
    subscriptions = [
        Subscription(
            f"sub_{c.id[4:]}", c.id, plans[c.id], created, date(2026, 10, 31) if c.id == "cus_e" else None
        )
        for c in customers
    ]
    return customers, subscriptions


def tiny_events() -> list[dict[str, Any]]:
    """The 541 unique valid events of the tiny dataset, in landing order of their days."""
    d1, d2, d3 = TINY_START, TINY_START + timedelta(days=1), TINY_START + timedelta(days=2)
    events: list[dict[str, Any]] = []
    # GPU time of each customer: which hours it runs, at which minute, the offset its timestamps are
    # written in (hours), the milliseconds of each event, GPU type and region
    gpu_profiles = (
        ("cus_b", lambda day, hh: True, 30, 0, "1000000", "h100", "us-east-1"),
        ("cus_c", lambda day, hh: hh % 4 == 0, 15, 1, "500000", "l4", "eu-central-1"),
        ("cus_d", lambda day, hh: hh in (1, 9, 17), 0, 9, "2000000", "a100", "ap-northeast-1"),
        ("cus_e", lambda day, hh: day != d3, 45, 0, "100000", "l4", "us-west-2"),
    )
    for day in (d1, d2, d3):
        tag = day.strftime("%Y%m%d")
        for hh in range(24):
            for cid, runs, minute, offset, ms, gpu_type, region in gpu_profiles:
                if runs(day, hh):
                    at = _ts(_at(day, hh, minute), offset)
                    dims = {"gpu_type": gpu_type, "region": region}
                    events.append(_event(f"evt_{cid}_gpu_{tag}_{hh:02d}", cid, "gpu_ms", at, ms, dims))
            if day == d2 and hh == 13:
                events.append(
                    _event(
                        "evt_cus_a_gpu_0001",
                        "cus_a",
                        "gpu_ms",
                        "2026-10-30T13:47:00Z",
                        "2457",
                        {"gpu_type": "a100", "region": "us-east-1"},
                    )
                )
            for cid, calls, minute in (("cus_a", 10, 5), ("cus_b", 20, 10), ("cus_c", 5, 20)):
                if hh < calls:
                    events.append(
                        _event(
                            f"evt_{cid}_api_{tag}_{hh:02d}", cid, "api_calls", _ts(_at(day, hh, minute)), None
                        )
                    )
            for cid, gb in (("cus_a", "1.5"), ("cus_b", "100"), ("cus_c", "0.25"), ("cus_d", "2")):
                events.append(
                    _event(f"evt_{cid}_sto_{tag}_{hh:02d}", cid, "storage_gb", _ts(_at(day, hh)), gb)
                )
    return events


def _tiny_landed() -> tuple[list[Landed], GenerationReport]:
    d2, d3 = TINY_START + timedelta(days=1), TINY_START + timedelta(days=2)
    report = GenerationReport("tiny", 0, Path("."))
    by_id = {e["event_id"]: e for e in tiny_events()}
    late = {"evt_cus_b_gpu_20261029_23": d2, "evt_cus_d_gpu_20261029_17": d3}
    landed: list[Landed] = []
    for event in tiny_events():
        day = _utc_day(event["timestamp"])
        arrival = late.get(event["event_id"], day)
        fmt = "jsonl"
        if arrival == d2 and event["customer_id"] == "cus_c":
            fmt = "csv"
        elif arrival == d3 and event["meter"] == "storage_gb":
            fmt = "parquet"
        landed.append(Landed(event, arrival, fmt))
    report.late = len(late)
    # exact duplicates
    dups = [
        ("evt_cus_b_gpu_20261029_00", d2),
        ("evt_cus_a_api_20261031_00", d3),
        ("evt_cus_c_sto_20261030_00", d3),
    ]
    for event_id, arrival in dups:
        landed.append(Landed(dict(by_id[event_id]), arrival))
    report.duplicates = len(dups)
    malformed = [
        (
            _event(
                "evt_bad_0001",
                "cus_a",
                "gpu_ms",
                "2026-10-30 12:00:00",
                "1000",
                {"gpu_type": "a100", "region": "us-east-1"},
            ),
            d2,
        ),
        (
            _event(
                "evt_bad_0002",
                "cus_a",
                "gpu_ms",
                "2026-10-30T12:00:00Z",
                "-5",
                {"gpu_type": "a100", "region": "us-east-1"},
            ),
            d2,
        ),
        (
            {
                k: v
                for k, v in _event("evt_bad_0003", "x", "api_calls", "2026-10-31T08:00:00Z", None).items()
                if k != "customer_id"
            },
            d3,
        ),
        (
            _event(
                "evt_bad_0004",
                "cus_b",
                "gpu_ms",
                "2026-10-31T09:00:00Z",
                "12ms",
                {"gpu_type": "h100", "region": "us-east-1"},
            ),
            d3,
        ),
    ]
    landed += [Landed(rec, arrival) for rec, arrival in malformed]
    report.malformed = len(malformed)
    report.events = len(by_id)
    return landed, report


# --------------------------------------------------------------------------- small / bench

_FIRST = [
    "Acme",
    "Nimbus",
    "Vector",
    "Quanta",
    "Helix",
    "Aurora",
    "Cobalt",
    "Lumen",
    "Orbit",
    "Pioneer",
    "Summit",
    "Tensor",
    "Atlas",
    "Beacon",
    "Cinder",
    "Delta",
    "Ember",
    "Fathom",
    "Granite",
    "Harbor",
    "Ion",
    "Juniper",
    "Kestrel",
    "Lattice",
    "Meridian",
    "Nova",
    "Onyx",
    "Prism",
    "Quartz",
    "Relay",
]
_SECOND = [
    "Robotics",
    "AI",
    "Labs",
    "Vision",
    "Analytics",
    "Bio",
    "Systems",
    "Dynamics",
    "Studio",
    "Works",
    "Health",
    "Logistics",
    "Media",
    "Genomics",
    "Finance",
    "Energy",
    "Games",
    "Cloud",
]
_US_CITIES = [
    ("Springfield", "12345", "US"),
    ("Austin", "73301", "US"),
    ("Seattle", "98101", "US"),
    ("Denver", "80202", "US"),
    ("Toronto", "M5H 2N2", "CA"),
    ("London", "EC1A 1BB", "GB"),
]
_EU = [
    ("DE", "Berlin", "10117", "DE{:09d}"),
    ("FR", "Paris", "75001", "FR{:011d}"),
    ("NL", "Amsterdam", "1012 AB", "NL{:09d}B01"),
    ("IE", "Dublin", "D02 XY45", "IE{:07d}A"),
    ("ES", "Madrid", "28001", "ESX{:07d}X"),
    ("IT", "Milan", "20121", "IT{:011d}"),
]
_REGIONS = {"US": "us-east-1", "CA": "ca-central-1", "GB": "eu-west-2", "JP": "ap-northeast-1"}

# plan -> (relative weight at sign-up, GPU ms per active day (mean), api calls per day (mean))
_PLANS = {
    "payg": (0.50, 600_000.0, 6.0),
    "starter": (0.30, 1_600_000.0, 12.0),
    "growth": (0.15, 9_000_000.0, 25.0),
    "enterprise_annual": (0.05, 25_000_000.0, 40.0),
}
_UPGRADE = {"payg": "starter", "starter": "growth", "growth": "enterprise_annual"}
_DOWNGRADE = {"growth": "starter", "starter": "payg", "enterprise_annual": "growth"}


def _plan_id(base: str, currency: str) -> str:
    return base if currency == "USD" else f"{base}_{currency.lower()}"


def _base_plan(plan_id: str) -> str:
    for suffix in ("_eur", "_jpy"):
        if plan_id.endswith(suffix):
            return plan_id[: -len(suffix)]
    return plan_id


def _small_catalog(
    rng: _Rng, n_customers: int, start: date, end: date
) -> tuple[list[Customer], list[Subscription]]:
    customers: list[Customer] = []
    subscriptions: list[Subscription] = []
    span = (end - start).days
    jpy_slots = {n_customers // 3, (2 * n_customers) // 3}
    exempt_slot = n_customers // 2 + 1
    for i in range(1, n_customers + 1):
        cid = f"cus_{i:04d}"
        name = f"{_FIRST[(i * 7) % len(_FIRST)]} {_SECOND[(i * 11) % len(_SECOND)]}"
        if i > len(_FIRST) * 2:
            name += f" {i}"
        # sign-ups: a quarter at the start, the rest spread over the history (never the last week)
        created = start if i <= n_customers // 4 else start + timedelta(days=rng.below(max(span - 7, 1)))
        if i in jpy_slots:
            country, currency, city, postal, tax_id = "JP", "JPY", "Tokyo", "100-0001", None
        elif rng.chance(0.10):
            country, city, postal, vat = rng.choice(_EU)
            currency = "EUR"
            tax_id = vat.format(rng.below(10**9)) if rng.chance(0.6) else None
        else:
            city, postal, country = rng.choice(_US_CITIES)
            currency, tax_id = "USD", None
        ctype = "individual" if rng.chance(0.08) and tax_id is None else "business"
        gpu_mix = rng.weighted(
            [
                (("a100",), 3),
                (("h100",), 2),
                (("l4",), 2),
                (("a100", "h100"), 2),
                (("a100", "l4"), 1),
                (("a100", "h100", "l4"), 1),
            ]
        )
        region = _REGIONS.get(country, "eu-central-1")
        customer = Customer(
            id=cid,
            name=name,
            email=f"billing@{name.split()[0].lower()}{i}.example",
            country=country,
            currency=currency,
            customer_type=ctype,
            tax_id=tax_id,
            tax_exempt=(i == exempt_slot),
            created_at=created,
            address={
                "line1": f"{rng.between(1, 999)} Main St",
                "city": city,
                "postal_code": postal,
                "country": country,
            },
            gpu_types=gpu_mix,
            region=region,
            gpu_scale=0.5 + rng.random(),
            api_per_day=0,
            storage_gb=(round(5 + rng.random() * 500, 3) if rng.chance(0.12) else 0.0),
            offset_hours={"JP": 9, "DE": 2, "FR": 2, "NL": 2, "IT": 2, "ES": 2}.get(country, 0)
            if rng.chance(0.3)
            else 0,
        )
        customers.append(customer)
        # subscription timeline: initial plan, maybe an upgrade/downgrade, maybe churn (+ reactivation)
        plan = rng.weighted([(p, w) for p, (w, _, _) in _PLANS.items()])
        current_start = created
        seq = 0

        def add(
            plan_base: str,
            s: date,
            e: date | None,
            trial: int = 0,
            _cid: str = cid,
            _currency: str = currency,
        ) -> None:
            nonlocal seq
            seq += 1
            subscriptions.append(
                Subscription(f"sub_{_cid[4:]}_{seq}", _cid, _plan_id(plan_base, _currency), s, e, 1, trial)
            )

        trial = 14 if plan in ("starter", "growth") and rng.chance(0.2) else 0
        remaining = (end - created).days
        change_day = None
        if remaining > 60 and rng.chance(0.30):
            change_day = created + timedelta(days=30 + rng.below(remaining - 45))
            if rng.chance(0.5):  # plan changes on the 1st of the month, the rest mid-month (proration)
                change_day = _add_months(change_day, 1) if change_day.day > 1 else change_day
        churn_day = None
        if remaining > 45 and rng.chance(0.10):
            churn_day = created + timedelta(days=40 + rng.below(remaining - 40))
        if change_day is not None and churn_day is not None and churn_day <= change_day + timedelta(days=14):
            change_day = None
        if change_day is not None and change_day < end:
            new_plan = (_UPGRADE if rng.chance(0.7) else _DOWNGRADE).get(plan)
            if new_plan is not None:
                add(plan, current_start, change_day, trial)
                plan, current_start, trial = new_plan, change_day, 0
        if churn_day is not None and churn_day < end:
            add(plan, current_start, churn_day, trial)
            back = churn_day + timedelta(days=45)
            if rng.chance(0.25) and back < end - timedelta(days=7):  # reactivation
                add(plan, back, None)
        else:
            add(plan, current_start, None, trial)
    return customers, subscriptions


def _active_plan(subs: list[Subscription], day: date) -> str | None:
    for sub in subs:
        if sub.active_on(day):
            return _base_plan(sub.plan_id)
    return None


def _day_events(
    rng: _Rng,
    day: date,
    customers: list[Customer],
    subs_by_customer: dict[str, list[Subscription]],
    counter: list[int],
    scale: float,
    growth: float,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for customer in customers:
        plan = _active_plan(subs_by_customer[customer.id], day)
        if plan is None:
            continue
        _, gpu_mean_ms, api_mean = _PLANS[plan]
        daily_ms = gpu_mean_ms * customer.gpu_scale * growth * (0.6 + 0.8 * rng.random())
        n_jobs = max(1, rng.poisson(4 * scale))
        for _ in range(n_jobs):
            counter[0] += 1
            second = rng.below(86_400)
            moment = _at(day, second // 3600, (second // 60) % 60, second % 60)
            ms = max(1, int(daily_ms / n_jobs * (0.5 + rng.random())))
            gpu_type = rng.choice(customer.gpu_types)
            millis = rng.below(1000) if rng.chance(0.2) else None
            events.append(
                _event(
                    f"evt_{counter[0]:09d}",
                    customer.id,
                    "gpu_ms",
                    _ts(moment, customer.offset_hours, millis),
                    str(ms),
                    {"gpu_type": gpu_type, "region": customer.region},
                )
            )
        for _ in range(rng.poisson(api_mean * 0.25 * scale)):
            counter[0] += 1
            second = rng.below(86_400)
            moment = _at(day, second // 3600, (second // 60) % 60, second % 60)
            events.append(
                _event(
                    f"evt_{counter[0]:09d}",
                    customer.id,
                    "api_calls",
                    _ts(moment),
                    None,
                    {"region": customer.region},
                )
            )
        if customer.storage_gb:
            # gauge: grows ~1% a week; one sample per hour
            age_weeks = (day - customer.created_at).days / 7
            gb = Decimal(str(round(customer.storage_gb * (1.01**age_weeks), 3)))
            for hh in range(24):
                counter[0] += 1
                events.append(
                    _event(
                        f"evt_{counter[0]:09d}",
                        customer.id,
                        "storage_gb",
                        _ts(_at(day, hh)),
                        format(gb, "f"),
                        {"region": customer.region},
                    )
                )
    events.sort(key=lambda e: (e["timestamp"][:10], e["event_id"]))
    return events


def _malform(rng: _Rng, event: dict[str, Any], n: int) -> dict[str, Any]:
    bad = dict(event)
    bad["event_id"] = f"{event['event_id']}_bad{n}"
    kind = n % 4
    if kind == 0:
        bad["timestamp"] = bad["timestamp"][:19].replace("T", " ")  # no offset
    elif kind == 1:
        bad["quantity"] = "-" + str(bad.get("quantity") or "1")
    elif kind == 2:
        del bad["customer_id"]
    else:
        bad["quantity"] = f"{bad.get('quantity') or '1'}ms"
    return bad


# --------------------------------------------------------------------------- writers


def _json_line(record: dict[str, Any]) -> bytes:
    return _ENC.encode(record) + b"\n"


def _csv_bytes(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_FIELDS)
    for r in records:
        writer.writerow(
            [
                r.get("event_id", ""),
                r.get("customer_id", ""),
                r.get("meter", ""),
                r.get("timestamp", ""),
                "" if r.get("quantity") is None else str(r["quantity"]),
                _ENC.encode(r["properties"]).decode() if r.get("properties") else "",
                _ENC.encode(r["dimensions"]).decode() if r.get("dimensions") else "",
                r.get("source", ""),
            ]
        )
    return out.getvalue().encode("utf-8")


def _write_parquet(path: Path, records: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list[Any]] = {name: [] for name in EVENT_FIELDS}
    for r in records:
        for name in EVENT_FIELDS:
            value = r.get(name)
            if name in ("properties", "dimensions"):
                value = _ENC.encode(value).decode() if value else None
            elif value is not None:
                value = str(value)
            columns[name].append(value)
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()})
    pq.write_table(table, path, compression="zstd")


def _set_mtime(path: Path, arrival: date) -> None:
    moment = _at(arrival, 0) + FILE_MTIME_OFFSET
    ts = moment.timestamp()
    os.utime(path, (ts, ts))


class _LandingWriter:
    """Writes each arrival day's records to files of at most `max_lines` records."""

    def __init__(self, landing: Path, max_lines: int) -> None:
        self.landing = landing
        self.max_lines = max_lines
        self.files = 0

    def write_day(self, arrival: date, records: list[Landed]) -> None:
        folder = self.landing / f"arrival_date={arrival.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        number = 0
        for fmt in ("jsonl", "csv", "parquet"):
            batch = [item.record for item in records if item.fmt == fmt]
            for offset in range(0, len(batch), self.max_lines):
                number += 1
                chunk = batch[offset : offset + self.max_lines]
                path = folder / f"events-{number:04d}.{fmt}"
                if fmt == "jsonl":
                    path.write_bytes(b"".join(_json_line(r) for r in chunk))
                elif fmt == "csv":
                    path.write_bytes(_csv_bytes(chunk))
                else:
                    _write_parquet(path, chunk)
                _set_mtime(path, arrival)
                self.files += 1


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml_text(key: str, rows: list[dict[str, Any]], header: str) -> str:
    text = yaml.dump(
        {key: rows},
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=110,
    )
    return header + text


# The demo's record of what it wrote into the catalog folder: file name -> sha256 of the content.
DEMO_CATALOG_RECORD = ".written-by-demo.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_catalog_file(catalog: Path, name: str, content: bytes, report: GenerationReport) -> None:
    """Write one demo catalog file without ever overwriting a user's catalog.

    A file is (re)written only where none exists or where it is still exactly what the demo wrote last
    time (its hash is in DEMO_CATALOG_RECORD). A file the user created or edited is kept as it is; the
    demo's version goes to the sibling folder ``demo_catalog/`` instead, and the run says so.
    """
    record_path = catalog / DEMO_CATALOG_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    target = catalog / name
    if target.exists():
        current = target.read_bytes()
        if current == content:
            record[name] = _sha256(content)
        elif record.get(name) != _sha256(current):
            kept_dir = catalog.parent / "demo_catalog"
            kept_dir.mkdir(parents=True, exist_ok=True)
            (kept_dir / name).write_bytes(content)
            report.catalog_kept.append(name)
            return
    if not target.exists() or target.read_bytes() != content:
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    record[name] = _sha256(content)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _write_catalog(
    out: Path,
    customers: list[Customer],
    subs: list[Subscription],
    report: GenerationReport,
    progress: Callable[[str], None],
) -> None:
    catalog = out / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    if CATALOG_EXAMPLES.is_dir():
        for src in sorted(CATALOG_EXAMPLES.glob("*.yaml")):
            if src.name in ("customers.yaml", "subscriptions.yaml"):
                continue
            _write_catalog_file(catalog, src.name, src.read_bytes(), report)
            report.catalog_copied.append(src.name)
    else:
        progress(
            f"note: {CATALOG_EXAMPLES} does not exist yet: meters.yaml/plans.yaml not copied "
            f"(write them there, or into {catalog}, before rating)"
        )
    seed = "" if report.size == "tiny" else f" --seed {report.seed}"
    header = f"# generated by `usagebill demo-data --size {report.size}{seed}`\n"
    for name, key, rows in (
        ("customers.yaml", "customers", [c.catalog_row() for c in customers]),
        ("subscriptions.yaml", "subscriptions", [s.catalog_row() for s in subs]),
    ):
        _write_catalog_file(catalog, name, _yaml_text(key, rows, header).encode("utf-8"), report)
    if report.catalog_kept:
        progress(
            f"kept your catalog files {', '.join(report.catalog_kept)} in {catalog} (they differ from what the "
            f"demo wrote); the demo's versions are in {catalog.parent / 'demo_catalog'}"
        )
    report.customers, report.subscriptions = len(customers), len(subs)


class _CostAccumulator:
    """Daily usage actually served (unique valid events), turned into a FOCUS-style cost export."""

    def __init__(self) -> None:
        self.gpu_ms: dict[tuple[date, str, str], int] = defaultdict(int)
        self.api: dict[tuple[date, str], int] = defaultdict(int)
        self.storage: dict[tuple[date, str], Decimal] = defaultdict(Decimal)

    def add(self, event: dict[str, Any]) -> None:
        day = _utc_day(event["timestamp"])
        region = (event.get("dimensions") or {}).get("region", "us-east-1")
        if event["meter"] == "gpu_ms":
            self.gpu_ms[(day, event["dimensions"]["gpu_type"], region)] += int(event["quantity"])
        elif event["meter"] == "api_calls":
            self.api[(day, region)] += 1
        elif event["meter"] == "storage_gb":
            self.storage[(day, region)] += Decimal(event["quantity"])  # one hourly sample = 1 hour

    def rows(self, months: list[date]) -> dict[date, list[dict[str, str]]]:
        out: dict[date, list[dict[str, str]]] = {m: [] for m in months}

        def row(
            day: date,
            end: date,
            service: str,
            sku: str,
            resource: str,
            category: str,
            cost: Decimal,
            qty: str,
            unit: str,
            kind: str,
            meter: str,
            dimension: str = "",
        ) -> None:
            month = _month_start(day)
            if month not in out:
                return
            out[month].append(
                {
                    "BillingPeriodStart": f"{month.isoformat()}T00:00:00Z",
                    "ChargePeriodStart": f"{day.isoformat()}T00:00:00Z",
                    "ChargePeriodEnd": f"{end.isoformat()}T00:00:00Z",
                    "ProviderName": "GPU Cloud Infra",
                    "ServiceName": service,
                    "SkuId": sku,
                    "ResourceId": resource,
                    "ChargeCategory": category,
                    "BilledCost": format(cost, "f"),
                    "BillingCurrency": "USD",
                    "ConsumedQuantity": qty,
                    "ConsumedUnit": unit,
                    "x_CostKind": kind,
                    "x_UsagebillMeter": meter,
                    "x_UsagebillDimension": dimension,
                }
            )

        one = timedelta(days=1)
        for (day, gpu_type, region), ms in sorted(self.gpu_ms.items()):
            cost = GPU_COST_PER_1K_A100_MS * GPU_WEIGHT[gpu_type] * ms / 1000
            row(
                day,
                day + one,
                "GPU Compute",
                f"gpu-{gpu_type}-ms",
                f"gpu-pool-{gpu_type}-{region}",
                "Usage",
                cost,
                str(ms),
                "ms",
                "variable",
                "gpu_ms",
                f"gpu_type={gpu_type}",  # GPU types are priced differently: one unit cost per type
            )
        for (day, region), calls in sorted(self.api.items()):
            row(
                day,
                day + one,
                "API Gateway",
                "api-request",
                f"apigw-{region}",
                "Usage",
                API_COST_PER_CALL * calls,
                str(calls),
                "Requests",
                "variable",
                "api_calls",
            )
        for (day, region), gb_hours in sorted(self.storage.items()):
            row(
                day,
                day + one,
                "Object Storage",
                "storage-gb-hour",
                f"bucket-{region}",
                "Usage",
                STORAGE_COST_PER_GB_HOUR * gb_hours,
                format(gb_hours, "f"),
                "GB-Hours",
                "variable",
                "storage_gb",
            )
        for month in months:
            for service, sku, resource, monthly in FIXED_MONTHLY_COSTS:
                row(
                    month,
                    _add_months(month, 1),
                    service,
                    sku,
                    resource,
                    "Purchase",
                    monthly,
                    "1",
                    "Month",
                    "fixed",
                    "",
                )
        return out


def _utc_day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp).astimezone(UTC).date()


def _write_costs(out: Path, acc: _CostAccumulator, months: list[date]) -> int:
    folder = out / "costs"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for month, rows in acc.rows(months).items():
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(
            buf, fieldnames=list(rows[0].keys()) if rows else ["BillingPeriodStart"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        (folder / f"focus-{month:%Y-%m}.csv").write_text(buf.getvalue(), encoding="utf-8")
        n += len(rows)
    return n


def _clean(out: Path) -> None:
    """Remove what a previous generation wrote (so sizes do not mix); nothing else."""
    for sub in ("landing/usage", "costs"):
        target = out / sub
        if target.is_dir():
            for path in sorted(target.rglob("*"), reverse=True):
                if path.is_file() and (path.name.startswith(("events-", "focus-"))):
                    path.unlink()
                elif path.is_dir() and path.name.startswith("arrival_date=") and not any(path.iterdir()):
                    path.rmdir()


# --------------------------------------------------------------------------- main entry


def generate(
    out: Path,
    *,
    size: str = "small",
    seed: int = 42,
    end: date = DEFAULT_END,
    events: int | None = None,
    customers: int | None = None,
    progress: Callable[[str], None] = print,
) -> GenerationReport:
    """Write the demo dataset under `out` (a data dir) and return what was written.

    size: tiny | small | bench. `end` is the exclusive end of the history (small/bench), which
    then spans HISTORY_MONTHS whole months before it. `events` sets the approximate number of
    events for bench (default 2,000,000); `customers` overrides the customer count.
    """
    if size not in ("tiny", "small", "bench"):
        raise ValueError(f"unknown size {size!r}: use tiny, small or bench")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    landing = out / "landing" / "usage"
    if size == "tiny":
        return _generate_tiny(out, landing, progress)

    rng = _Rng(seed)
    report = GenerationReport(size, seed, out)
    end = _month_start(end) if end.day != 1 else end
    start = _add_months(end, -HISTORY_MONTHS)
    n_customers = customers or 200
    cat_customers, subs = _small_catalog(rng, n_customers, start, end)
    _write_catalog(out, cat_customers, subs, report, progress)
    subs_by_customer: dict[str, list[Subscription]] = defaultdict(list)
    for sub in subs:
        subs_by_customer[sub.customer_id].append(sub)

    days = list(_days(start, end))
    scale = 1.0
    if size == "bench":
        target = events or 2_000_000
        # the small profile yields ~1,290 events a day: ~350 hourly storage samples (not scaled) + ~940 others
        scale = max(1.0, (target / len(days) - 350.0) / 940.0)
    writer = _LandingWriter(landing, max_lines=50_000)
    acc = _CostAccumulator()
    pending: dict[date, list[Landed]] = defaultdict(list)
    counter = [0]
    dup_pool: list[dict[str, Any]] = []
    started = time.monotonic()
    for index, day in enumerate(days):
        growth = 1.0 + 0.5 * index / len(days)  # usage per customer grows over the history
        for event in _day_events(rng, day, cat_customers, subs_by_customer, counter, scale, growth):
            report.events += 1
            acc.add(event)
            arrival = day
            if rng.chance(0.01):
                late_by = rng.between(1, 5)
                if day + timedelta(days=late_by) < end:
                    arrival = day + timedelta(days=late_by)
                    report.late += 1
            fmt = "csv" if index % 10 == 3 else "parquet" if index % 10 == 7 else "jsonl"
            pending[arrival].append(Landed(event, arrival, fmt))
            if rng.chance(0.005):  # exact duplicate: same file, or re-sent 1-3 days later
                again = arrival + timedelta(days=rng.below(4))
                again = again if again < end else arrival
                pending[again].append(Landed(dict(event), again, "jsonl"))
                report.duplicates += 1
            if rng.chance(0.002):
                report.malformed += 1
                pending[arrival].append(Landed(_malform(rng, event, report.malformed), arrival, "jsonl"))
            if len(dup_pool) < 16:
                dup_pool.append(event)
        writer.write_day(day, pending.pop(day, []))
        if size == "bench" or index % 30 == 29 or index == len(days) - 1:
            rate = report.records / max(time.monotonic() - started, 1e-9)
            progress(
                f"  {day.isoformat()}: {report.records:,} records in {writer.files} files ({rate:,.0f}/s)"
            )
    for arrival in sorted(pending):  # nothing should remain: late arrivals are capped before `end`
        writer.write_day(arrival, pending[arrival])
    report.files = writer.files
    months = sorted({_month_start(d) for d in days})
    report.cost_rows = _write_costs(out, acc, months)
    return report


def _generate_tiny(out: Path, landing: Path, progress: Callable[[str], None]) -> GenerationReport:
    landed, report = _tiny_landed()
    report.out = out
    customers, subs = _tiny_catalog()
    _write_catalog(out, customers, subs, report, progress)
    writer = _LandingWriter(landing, max_lines=10_000)
    by_day: dict[date, list[Landed]] = defaultdict(list)
    for item in landed:
        by_day[item.arrival].append(item)
    for arrival in sorted(by_day):
        writer.write_day(arrival, by_day[arrival])
    report.files = writer.files
    acc = _CostAccumulator()
    for event in tiny_events():
        acc.add(event)
    report.cost_rows = _write_costs(out, acc, [date(2026, 10, 1)])
    return report


def write_tiny_fixture(path: Path) -> None:
    """(Re)write ingestion/fixtures/tiny_usage.jsonl: the tiny dataset's unique valid events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(_json_line(e) for e in tiny_events()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill demo-data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "small", "bench"], default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--out", type=Path, default=None, help="data dir (default: USAGEBILL_DATA_DIR or data/)"
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=DEFAULT_END,
        help="exclusive end of the history, a 1st of month (default 2026-11-01)",
    )
    parser.add_argument("--events", type=int, default=None, help="approximate event count for --size bench")
    parser.add_argument("--customers", type=int, default=None, help="number of customers (default 200)")
    args = parser.parse_args(argv)
    if args.out is None:
        from usagebill.paths import data_dir

        args.out = data_dir()
    started = time.monotonic()
    print(f"generating the {args.size} demo dataset (seed {args.seed}) into {args.out}", flush=True)
    report = generate(
        args.out,
        size=args.size,
        seed=args.seed,
        end=args.end,
        events=args.events,
        customers=args.customers,
        progress=lambda m: print(m, flush=True),
    )
    print(
        f"done in {time.monotonic() - started:.1f} s: {report.customers} customers, {report.subscriptions} "
        f"subscriptions, {report.events:,} events (+{report.duplicates:,} duplicates, {report.malformed:,} "
        f"malformed, {report.late:,} late) in {report.files} landing files, {report.cost_rows:,} cost rows"
    )
    if report.catalog_copied:
        print(f"copied catalog files: {', '.join(report.catalog_copied)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
