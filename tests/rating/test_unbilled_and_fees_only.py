"""`usagebill rate` says what it did not bill (per reason, events and quantity; JSON, table warning,
billing.fct_unbilled_usage) and prices a catalog of fees only, without usage or with an empty file.

Small catalog written here: api_calls at $1 per call; sub_ok also pays a $30 monthly fee in advance.
Expected numbers are counted by hand from the events below (May 2026, rated as of 2026-06-01)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cli.rate import main
from usagebill.rating import rate, result_to_json, result_to_table

pytestmark = pytest.mark.slow
D = Decimal
MAY, JUNE = date(2026, 5, 1), date(2026, 6, 1)

CATALOG = {
    "meters.yaml": """meters:
  - {id: api_calls, aggregation: count}
  - {id: gpu_ms, aggregation: sum}
""",
    "plans.yaml": """plans:
  - id: calls
    currency: USD
    versions:
      - version: 1
        effective_from: 2026-01-01
        charges:
          - {id: calls, type: usage, meter: api_calls, model: per_unit, unit_price: "1"}
  - id: fee_calls
    currency: USD
    versions:
      - version: 1
        effective_from: 2026-01-01
        charges:
          - {id: platform, type: recurring, amount: "30"}
          - {id: calls, type: usage, meter: api_calls, model: per_unit, unit_price: "1"}
""",
    "customers.yaml": """customers:
  - {id: c_ok, currency: USD}
  - {id: c_none, currency: USD}
  - {id: c_late, currency: USD}
  - {id: c_ended, currency: USD}
""",
    "subscriptions.yaml": """subscriptions:
  - {id: sub_ok, customer_id: c_ok, plan_id: fee_calls, start_date: 2026-05-01}
  - {id: sub_late, customer_id: c_late, plan_id: calls, start_date: 2026-05-15}
  - {id: sub_ended, customer_id: c_ended, plan_id: calls, start_date: 2026-04-01, end_date: 2026-05-10}
""",
}


def _event(event_id: str, customer: str, meter: str, day: int, quantity: str = "1") -> dict[str, str]:
    return {
        "event_id": event_id,
        "customer_id": customer,
        "meter": meter,
        "timestamp": f"2026-05-{day:02d}T12:00:00Z",
        "quantity": quantity,
    }


def mixed_events() -> list[dict[str, str]]:
    return [
        *(_event(f"ok{i}", "c_ok", "api_calls", 2 + i) for i in range(3)),  # billed: 3 calls
        _event("dup1", "c_ok", "api_calls", 3),  # billed once (the first arrival)
        _event("dup1", "c_ok", "api_calls", 4),  # same id, other time: duplicate_payload_differs
        _event("dup2", "c_ok", "api_calls", 6),  # billed once
        _event("dup2", "c_ok", "api_calls", 6),  # identical copy: an ordinary retry, not reported
        _event("gpu1", "c_ok", "gpu_ms", 7, "1000"),  # meter_not_priced (1000)
        _event("bogus1", "c_ok", "bogus_meter", 7, "5"),  # unknown_meter (5)
        _event("none1", "c_none", "api_calls", 8),  # no_subscription
        _event("none2", "c_none", "api_calls", 9),  # no_subscription
        _event("ghost1", "c_ghost", "api_calls", 9),  # unknown customer: no_subscription
        _event("late1", "c_late", "api_calls", 5),  # before_subscription_start (starts May 15)
        _event("late2", "c_late", "api_calls", 20),  # billed
        _event("ended1", "c_ended", "api_calls", 5),  # billed
        _event("ended2", "c_ended", "api_calls", 20),  # after_subscription_end (ended May 10)
    ]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unbilled_catalog")
    for name, text in CATALOG.items():
        (root / name).write_text(text)
    return root


def test_mixed_file_reports_what_was_not_billed(catalog: Path, tmp_path: Path) -> None:
    usage = tmp_path / "mixed.jsonl"
    usage.write_text("\n".join(json.dumps(e) for e in mixed_events()) + "\n")
    result = rate(catalog, [usage], MAY, JUNE, keep_dir=tmp_path / "work", progress=lambda m: None)
    # billed: c_ok 30 fee + 5 calls (ok0-2, dup1, dup2) = 35; c_late 1; c_ended 1
    assert result.totals("c_ok") == {"USD": D("35.00")}
    assert result.totals("c_late") == {"USD": D("1.00")}
    assert result.totals("c_ended") == {"USD": D("1.00")}
    assert result.totals("c_none") == {}
    # not billed, per reason: (events, quantity)
    assert result.unbilled_totals() == {
        "after_subscription_end": (1, D("1")),
        "before_subscription_start": (1, D("1")),
        "duplicate_payload_differs": (1, D("1")),
        "meter_not_priced": (1, D("1000")),
        "no_subscription": (3, D("3")),
        "unknown_meter": (1, D("5")),
    }
    document = result_to_json(result)
    assert {r["reason"]: (r["events"], r["quantity"]) for r in document["unbilled"]["reasons"]} == {
        "after_subscription_end": (1, "1"),
        "before_subscription_start": (1, "1"),
        "duplicate_payload_differs": (1, "1"),
        "meter_not_priced": (1, "1000"),
        "no_subscription": (3, "3"),
        "unknown_meter": (1, "5"),
    }
    table = result_to_table(result)
    warning = next(line for line in table.splitlines() if line.startswith("WARNING"))
    assert "8 usage events of [2026-05-01, 2026-06-01) were NOT billed" in warning
    assert "no_subscription 3 events (3 units)" in warning
    # the same rows are in the mart of the daily run
    import duckdb

    con = duckdb.connect(str(tmp_path / "work" / "rate.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select reason, event_id, customer_id from billing.fct_unbilled_usage order by 1, 2"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        ("after_subscription_end", "ended2", "c_ended"),
        ("before_subscription_start", "late1", "c_late"),
        ("duplicate_payload_differs", "dup1", "c_ok"),
        ("meter_not_priced", "gpu1", "c_ok"),
        ("no_subscription", "ghost1", "c_ghost"),
        ("no_subscription", "none1", "c_none"),
        ("no_subscription", "none2", "c_none"),
        ("unknown_meter", "bogus1", "c_ok"),
    ]


def test_fees_only_with_an_empty_usage_file(catalog: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = rate(catalog, [empty], MAY, JUNE, progress=lambda m: None)
    # only sub_ok's $30 fee in advance for May; no usage, nothing unbilled
    assert [(x["customer_id"], x["line_type"], x["amount_rounded"]) for x in result.lines] == [
        ("c_ok", "recurring_fee", D("30.00"))
    ]
    assert result.events_loaded == 0 and result.unbilled == []


def test_fees_only_without_a_usage_file(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--catalog",
            str(catalog),
            "--period-start",
            "2026-05-01",
            "--period-end",
            "2026-06-01",
            "--format",
            "json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    assert document["totals"] == [{"currency": "USD", "amount": "30.00"}]
    assert document["events"]["loaded"] == 0
    assert document["unbilled"] == {"reasons": [], "by_meter": []}
