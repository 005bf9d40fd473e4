"""Crash injection: the exporter dies before or after ANY API call (after = the response arrived but the
ledger was not written); a fresh exporter then re-runs. Stripe must end with exactly one invoice per usagebill
invoice/debit note, with the hand-computed totals, and exactly one credit note."""

from __future__ import annotations

import duckdb
import pytest


class InjectedCrash(BaseException):
    """BaseException, like a kill: the exporter's per-invoice error handling must not swallow it."""


def crash_at(position: str, n: int):
    def hook(pos: str, call_number: int, name: str) -> None:
        if pos == position and call_number == n:
            raise InjectedCrash(f"{position} call {n} ({name})")

    return hook


def run(target, db, hook=None):
    con = duckdb.connect(str(db))
    try:
        return target.export(con, target.api(hook=hook))
    finally:
        con.close()


def stripe_view(target) -> tuple[dict[str, list[dict]], list[dict]]:
    """Non-void invoices by usagebill id, and all credit notes, as Stripe holds them."""
    if target.is_fake:
        state = target.control("state", method="GET")
        invoices = list(state["objects"]["invoice"].values())
        notes = list(state["objects"]["credit_note"].values())
    else:
        client = target.client()
        invoices, notes = [], []
        for email in (f"billing{target.suffix}@acme.example", f"ap{target.suffix}@tokyo.example"):
            for cus in client.v1.customers.list(params={"email": email}).data:
                for inv in client.v1.invoices.list(params={"customer": cus.id, "limit": 100}).data:
                    invoices.append(inv.to_dict())
                    notes += [
                        n.to_dict() for n in client.v1.credit_notes.list(params={"invoice": inv.id}).data
                    ]
    by_id: dict[str, list[dict]] = {}
    for inv in invoices:
        if inv["status"] != "void":
            by_id.setdefault(inv["metadata"].get("usagebill_invoice_id"), []).append(inv)
    return by_id, notes


def assert_exactly_once(target, expected: dict[str, int]) -> None:
    by_id, notes = stripe_view(target)
    assert sorted(by_id) == sorted(expected)
    for inv_id, total in expected.items():
        assert len(by_id[inv_id]) == 1, f"{inv_id}: {len(by_id[inv_id])} Stripe invoices"
        inv = by_id[inv_id][0]
        assert inv["total"] == total and inv["status"] == "open"
    assert len(notes) == 1 and notes[0]["total"] == 1234  # cn_1: 12.34 USD
    cn_invoice = by_id[f"inv_a{target.suffix}"][0]
    if target.is_fake:
        assert cn_invoice["amount_due"] == 51234 - 1234  # = 50000
    customers = target.control("state", method="GET")["objects"]["customer"] if target.is_fake else None
    if customers is not None:
        assert len(customers) == 2


@pytest.mark.parametrize("position", ["before", "after"])
def test_crash_between_any_two_calls_then_rerun(target, isolated_env, seed, position):
    # a clean run makes this many calls: the crash points below cover every one of them
    db0 = isolated_env / "clean.duckdb"
    seed(db0, target.suffix, notes=True)
    clean = run(target, db0)
    total_calls = clean.api_calls
    assert not clean.failed and total_calls >= 20
    points = range(1, total_calls + 1) if target.is_fake else (2, 5, 9)
    for n in points:
        if target.is_fake:
            target.control("reset")
        else:
            target.suffix = target.suffix.split("-")[0] + f"-{position}{n}"
        db = isolated_env / f"crash_{position}_{n}.duckdb"
        expected = seed(db, target.suffix, notes=True)
        with pytest.raises(InjectedCrash):
            run(target, db, hook=crash_at(position, n))
        rerun = run(target, db)
        assert not rerun.failed, (n, rerun.failed)
        assert_exactly_once(target, expected)
        again = run(target, db)
        assert again.api_calls == 0 and again.sent == [], n
