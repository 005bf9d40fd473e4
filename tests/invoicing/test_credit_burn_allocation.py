"""The set-based credit burn (int_invoice_credit_burn.sql) against a walk over the invoices one by one.

The model replaced a recursive CTE (Spark refuses recursive CTEs with window functions) by one
running-sum step per burn rank (docs/invoices.md, "Prepaid credits"). This test renders the model's
SQL with a minimal stand-in for dbt's Jinja context (ref -> table name, the grant count query
answered from the data), runs it on DuckDB over random grants and invoices, and compares every
(grant, invoice) row with a plain Python walk of the documented rule:
- invoices of a (tenant, customer, currency) in order of billing date, subscription_id, invoice_id;
  an invoice's demand is the sum of its lines' gross amounts, when positive;
- an invoice takes from the grants that can pay it (same currency, granted_at <= billing date <
  expires_at) in burn order: earliest expiry first (never-expiring last), granted_at, grant_id.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pytest

MODEL = (
    Path(__file__).resolve().parents[2]
    / "dbt_project/models/intermediate/invoicing/int_invoice_credit_burn.sql"
)
# The project macros the model calls (plain Jinja, no dbt context needed): defined ahead of it.
MACROS = [Path(__file__).resolve().parents[2] / "dbt_project/macros/cross_engine/joins.sql"]
D = Decimal


class _Relation:
    def __init__(self, schema: str, identifier: str) -> None:
        self.database, self.schema, self.identifier = None, schema, identifier

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


def render_model(con: duckdb.DuckDBPyConnection) -> str:
    """The model's SQL as dbt would compile it against the tables in `con`."""
    tables = {
        "int_invoice_lines_taxed": _Relation("intermediate", "int_invoice_lines_taxed"),
        "stg_catalog__credit_grants": _Relation("staging", "stg_catalog__credit_grants"),
    }

    class _Column:
        def __init__(self, values: list[Any]) -> None:
            self._values = values

        def values(self) -> list[Any]:
            return self._values

    class _Table:
        def __init__(self, rows: list[tuple]) -> None:
            self.columns = [_Column([r[i] for r in rows]) for i in range(len(rows[0]))]

    class _Adapter:
        @staticmethod
        def get_relation(database: Any, schema: str, identifier: str) -> Any:
            return tables.get(identifier)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    template = env.from_string("".join(m.read_text() for m in MACROS) + MODEL.read_text())
    return template.render(
        ref=lambda name: tables[name],
        execute=True,
        adapter=_Adapter(),
        run_query=lambda sql: _Table(con.execute(sql).fetchall()),
    )


def walk(grants: list[dict], invoices: list[dict]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(grant_id, invoice_id) -> (used, remaining after) by walking the invoices one by one."""
    out: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    keys = {(g["tenant_id"], g["customer_id"], g["currency"]) for g in grants}
    for key in keys:
        mine = sorted(
            (g for g in grants if (g["tenant_id"], g["customer_id"], g["currency"]) == key),
            key=lambda g: (
                g["expires_at"] is None,
                g["expires_at"] or date.max,
                g["granted_at"],
                g["grant_id"],
            ),
        )
        balance = {g["grant_id"]: g["amount"] for g in mine}
        demands = sorted(
            (
                i
                for i in invoices
                if (i["tenant_id"], i["customer_id"], i["currency"]) == key and i["total"] > 0
            ),
            key=lambda i: (i["billing_date"], i["subscription_id"], i["invoice_id"]),
        )
        for inv in demands:
            left = inv["total"]
            for g in mine:
                can_pay = g["granted_at"] <= inv["billing_date"] and (
                    g["expires_at"] is None or g["expires_at"] > inv["billing_date"]
                )
                used = min(left, balance[g["grant_id"]]) if can_pay else D(0)
                balance[g["grant_id"]] -= used
                left -= used
                out[(g["grant_id"], inv["invoice_id"])] = (used, balance[g["grant_id"]])
    return out


def _random_case(rng: random.Random) -> tuple[list[dict], list[dict]]:
    start = date(2026, 1, 1)
    grants, invoices = [], []
    for c in range(3):
        for currency in ("EUR", "USD"):
            owner = dict(tenant_id="t1", customer_id=f"c{c}", currency=currency)
            for g in range(rng.randint(1, 6)):
                granted = start + timedelta(days=rng.randint(0, 150))
                expires = None if rng.random() < 0.3 else granted + timedelta(days=rng.randint(1, 120))
                grants.append(
                    dict(
                        grant_id=f"g{c}{currency}{g}",
                        **owner,
                        amount=D(rng.randint(1, 40000)) / 100,
                        granted_at=granted,
                        expires_at=expires,
                    )
                )
            for i in range(rng.randint(0, 12)):
                invoices.append(
                    dict(
                        invoice_id=f"in{c}{currency}{i:02d}",
                        **owner,
                        subscription_id=f"sub{rng.randint(1, 2)}",
                        # same-day invoices happen: the order falls back to subscription_id, invoice_id
                        billing_date=start + timedelta(days=rng.choice([0, 31, 59, 90, 120, 151, 181])),
                        total=D(rng.randint(-2000, 30000)) / 100,
                    )
                )
    return grants, invoices


def _load(con: duckdb.DuckDBPyConnection, grants: list[dict], invoices: list[dict]) -> None:
    con.execute("create schema intermediate; create schema staging")
    con.execute(
        "create table staging.stg_catalog__credit_grants (grant_id varchar, tenant_id varchar, "
        "customer_id varchar, currency varchar, amount decimal(38, 12), granted_at date, expires_at date, "
        "description varchar)"
    )
    con.executemany(
        "insert into staging.stg_catalog__credit_grants values (?, ?, ?, ?, ?, ?, ?, null)",
        [
            [
                g["grant_id"],
                g["tenant_id"],
                g["customer_id"],
                g["currency"],
                g["amount"],
                g["granted_at"],
                g["expires_at"],
            ]
            for g in grants
        ],
    )
    con.execute(
        "create table intermediate.int_invoice_lines_taxed (tenant_id varchar, invoice_id varchar, "
        "customer_id varchar, currency varchar, subscription_id varchar, billing_date date, "
        "gross_amount decimal(38, 12))"
    )
    # each invoice as two lines (a fee and a negative adjustment) summing to its total
    rows = []
    for i in invoices:
        key = [
            i["tenant_id"],
            i["invoice_id"],
            i["customer_id"],
            i["currency"],
            i["subscription_id"],
            i["billing_date"],
        ]
        rows += [key + [i["total"] + D(5)], key + [D(-5)]]
    con.executemany("insert into intermediate.int_invoice_lines_taxed values (?, ?, ?, ?, ?, ?, ?)", rows)


def test_worked_example_three_grants() -> None:
    # g_short 150 [Apr 1, May 20), g_forever 200 [Apr 1, -), g_june 80 [May 15, Jul 1); invoices 100
    # on May 1, Jun 1, Jul 1 (hand walk, docs/invoices.md):
    # May 1: g_short (earliest expiry) pays 100 -> g_short 50 left
    # Jun 1: g_short expired; g_june (Jul 1) pays 80, g_forever 20 -> g_forever 180
    # Jul 1: g_june expired (expires_at exclusive); g_forever pays 100 -> g_forever 80
    grants = [
        dict(grant_id="g_short", amount=D(150), granted_at=date(2026, 4, 1), expires_at=date(2026, 5, 20)),
        dict(grant_id="g_forever", amount=D(200), granted_at=date(2026, 4, 1), expires_at=None),
        dict(grant_id="g_june", amount=D(80), granted_at=date(2026, 5, 15), expires_at=date(2026, 7, 1)),
    ]
    for g in grants:
        g.update(tenant_id="t1", customer_id="c1", currency="USD")
    invoices = [
        dict(invoice_id=f"in{m}", billing_date=date(2026, m, 1), total=D(100), subscription_id="s1")
        for m in (5, 6, 7)
    ]
    for i in invoices:
        i.update(tenant_id="t1", customer_id="c1", currency="USD")
    got = _run(grants, invoices)
    used = {k: v[0] for k, v in got.items() if v[0] != 0}
    assert used == {
        ("g_short", "in5"): D(100),
        ("g_june", "in6"): D(80),
        ("g_forever", "in6"): D(20),
        ("g_forever", "in7"): D(100),
    }
    assert got[("g_forever", "in7")][1] == D(80) and got[("g_short", "in7")][1] == D(50)


def _run(grants: list[dict], invoices: list[dict]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    con = duckdb.connect()
    _load(con, grants, invoices)
    sql = render_model(con)
    assert "recursive" not in sql.lower()
    rows = con.execute(f"select grant_id, invoice_id, used, remaining_after from ({sql})").fetchall()
    got = {(g, i): (u, r) for g, i, u, r in rows}
    assert len(got) == len(rows)  # one row per (grant, invoice)
    return got


@pytest.mark.parametrize("seed", range(8))
def test_set_based_burn_equals_the_walk(seed: int) -> None:
    grants, invoices = _random_case(random.Random(seed))
    got = _run(grants, invoices)
    assert got == walk(grants, invoices)
