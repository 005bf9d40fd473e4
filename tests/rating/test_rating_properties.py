"""Property tests (hypothesis) of the production pricing SQL.

The SQL is the one dbt compiled for the shared scenario build (tests/rating/conftest.py): the
compiled models int_rating__usage_quantities -> _usage_priced -> _transaction_fees -> _usage_lines
run in a copy of that warehouse on generated inputs, so no extra dbt invocation is needed.
Properties:
- tier quantities of the lines add up to the billable total (total - included units);
- the groups' amounts add up to the amount of the total, which equals an independent Decimal
  reference of graduated / volume pricing;
- the bill does not depend on event order or on how the quantity was batched into events;
- every value is a Decimal (no float).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usagebill.rating import RatingResult

pytestmark = pytest.mark.slow

MODELS = (
    "int_rating__usage_quantities",
    "int_rating__usage_priced",
    "int_rating__transaction_fees",
    "int_rating__usage_lines",
)
PRICE_ID = "prop:graduated"
GROUPS = ("a100", "h100", "l4")


class SqlLab:
    """A copy of the scenario warehouse where the compiled rating models run on generated inputs."""

    def __init__(self, workdir: Path, lab: Path) -> None:
        lab.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            workdir / "rate.duckdb", lab / "rate.duckdb"
        )  # the compiled SQL names database "rate"
        compiled = workdir / "target" / "compiled" / "usagebill" / "models" / "intermediate" / "rating"
        self.sql = {m: (compiled / f"{m}.sql").read_text() for m in MODELS}
        self.con = duckdb.connect(str(lab / "rate.duckdb"))
        self.con.execute("create table staging.tiers_copy as select * from staging.stg_catalog__charge_tiers")
        self.con.execute("drop view staging.stg_catalog__charge_tiers")
        self.con.execute("create table staging.stg_catalog__charge_tiers as select * from staging.tiers_copy")
        self.price_template = self._row(
            "intermediate.int_rating__prices_resolved",
            "subscription_id = 'sub_c_pooled' and period_start = date '2026-05-01'",
        )
        self.event_template = self._row(
            "intermediate.int_rating__usage_events", "subscription_id = 'sub_c_pooled'"
        )

    def _row(self, table: str, where: str) -> dict[str, Any]:
        cursor = self.con.execute(f"select * from {table} where {where} limit 1")
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchall()[0], strict=True))

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.con.execute(f"delete from {table}")
        if rows:
            cols = list(rows[0])
            self.con.executemany(
                f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                [[row[c] for c in cols] for row in rows],
            )

    def rate_lines(
        self,
        model: str,
        included: Decimal,
        tiers: list[tuple[Decimal | None, Decimal, Decimal]],
        events: list[tuple[str, Decimal, datetime]],
    ) -> list[tuple[Any, ...]]:
        price = dict(
            self.price_template,
            price_id=PRICE_ID,
            price_model=model,
            included_units=included,
            unit_size=Decimal(1),
            dimension_name=None,
            dimension_value=None,
        )
        self._insert("intermediate.int_rating__prices_resolved", [price])
        lower = Decimal(0)
        tier_rows = []
        for index, (up_to, unit_price, flat_fee) in enumerate(tiers, start=1):
            tier_rows.append(
                {
                    "price_id": PRICE_ID,
                    "tier": index,
                    "lower_bound": lower,
                    "up_to": up_to,
                    "unit_price": unit_price,
                    "flat_fee": flat_fee,
                }
            )
            lower = up_to if up_to is not None else lower
        self._insert("staging.stg_catalog__charge_tiers", tier_rows)
        event_rows = []
        for number, (group, quantity, ts) in enumerate(events):
            dims = json.dumps({"gpu_type": group}, separators=(",", ":"))
            event_rows.append(
                dict(
                    self.event_template,
                    event_id=f"p{number}",
                    event_ts=ts,
                    quantity=quantity,
                    group_value_1=group,
                    dimensions_json=dims,
                    event_dimensions_json=dims,
                )
            )
        self._insert("intermediate.int_rating__usage_events", event_rows)
        for name in MODELS:
            self.con.execute(f"create or replace table intermediate.{name} as {self.sql[name]}")
        return self.con.execute(
            "select dimensions_json, quantity, amount, tier_breakdown_json from intermediate.int_rating__usage_lines "
            "order by dimensions_json"
        ).fetchall()


@pytest.fixture(scope="module")
def lab(rated: RatingResult, workdir: Path) -> SqlLab:
    return SqlLab(workdir / "work", workdir / "lab")


def reference_amount(
    model: str, billable: Decimal, tiers: list[tuple[Decimal | None, Decimal, Decimal]]
) -> Decimal:
    """Graduated / volume price of a total billable quantity, written independently of the SQL."""
    amount, lower = Decimal(0), Decimal(0)
    for up_to, unit_price, flat_fee in tiers:
        upper = up_to if up_to is not None else billable
        if model == "graduated" and billable > lower:
            amount += (min(billable, upper) - lower) * unit_price + flat_fee
        if model == "volume" and billable > lower and (up_to is None or billable <= up_to):
            amount = billable * unit_price + flat_fee
        lower = upper
    return amount


money = st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False)
quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=60, places=3, allow_nan=False, allow_infinity=False
)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[tuple[Decimal | None, Decimal, Decimal]]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=150), min_size=0, max_size=3)))
    ups: list[Decimal | None] = [Decimal(b) for b in bounds] + [None]
    return [(up, draw(money), draw(st.sampled_from([Decimal(0), Decimal(0), draw(money)]))) for up in ups]


@st.composite
def usage(draw: st.DrawFn) -> list[tuple[str, Decimal, datetime]]:
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True))
    start = datetime(2026, 5, 1)
    return [
        (group, draw(quantities), start + timedelta(minutes=draw(st.integers(0, 44_000))))
        for group in groups
        for _ in range(draw(st.integers(1, 4)))
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(["graduated", "volume"]),
    tiers=tier_lists(),
    events=usage(),
    included=st.integers(min_value=0, max_value=40).map(Decimal),
)
def test_tier_quantities_add_up_and_amounts_match_reference(
    lab: SqlLab, model: str, tiers, events, included
) -> None:
    rows = lab.rate_lines(model, included, tiers, events)
    total = sum((q for _, q, _ in events), Decimal(0))
    billable = max(total - included, Decimal(0))
    # one line per group, the quantities of the lines are the group totals
    assert sum(row[1] for row in rows) == total
    tier_quantity = sum(
        (Decimal(t["quantity"]) for row in rows if row[3] for t in json.loads(row[3])), Decimal(0)
    )
    assert tier_quantity == billable
    assert sum(row[2] for row in rows) == reference_amount(model, billable, tiers)
    for row in rows:
        assert all(isinstance(v, Decimal) for v in row[1:3])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tiers=tier_lists(),
    events=usage(),
    included=st.integers(min_value=0, max_value=40).map(Decimal),
    data=st.data(),
)
def test_bill_independent_of_event_order_and_batching(lab: SqlLab, tiers, events, included, data) -> None:
    first = lab.rate_lines("graduated", included, tiers, events)
    # re-batch: merge each group's events into one event and split it again at a random point, shuffled
    rebatched: list[tuple[str, Decimal, datetime]] = []
    for group in sorted({g for g, _, _ in events}):
        total = sum((q for g, q, _ in events if g == group), Decimal(0))
        cut = data.draw(
            st.decimals(min_value=0, max_value=total, places=3, allow_nan=False, allow_infinity=False)
        )
        ts = min(t for g, _, t in events if g == group)
        rebatched += [(group, cut, ts + timedelta(hours=5)), (group, total - cut, ts)]
    rebatched = data.draw(st.permutations(rebatched))
    assert lab.rate_lines("graduated", included, tiers, rebatched) == first
