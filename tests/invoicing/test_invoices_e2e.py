"""End to end through the real pipeline: catalog YAML -> raw, landing files -> raw usage, dbt build of
rating + invoicing (+ reconciliation tests), then a late event, a second build, `recompute`, and the
documents. Two dbt builds for the whole module plus one `dbt run` per recompute.

Catalog: the demo meters and plans (usagebill/catalog/examples/gpu_cloud), the customers of
e2e_catalog/, the example issuer (GPU Cloud SAS, France) and tax rates (fallback, announced).
- cus_us, starter ($500/month in advance, 50,000,000 GPU ms included, $0.009 per 1K ms over);
- cus_de, payg_eur (EUR 0.01 per 1K GPU ms), German business with a VAT id -> reverse charge.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from decimal import Decimal as D
from html.parser import HTMLParser
from pathlib import Path

import pytest

from usagebill.catalog import load_catalog
from usagebill.invoices import documents
from usagebill.invoices.cli import main as invoices_main
from usagebill.invoices.recompute import format_comparison, recompute_invoice

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "usagebill" / "catalog" / "examples" / "gpu_cloud"
REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient, Art. 196 Council Directive 2006/112/EC"
)


def event(event_id: str, customer: str, ts: str, quantity: int, arrived_at: str) -> dict:
    return {
        "event_id": event_id,
        "customer_id": customer,
        "meter": "gpu_ms",
        "timestamp": ts,
        "quantity": str(quantity),
        "dimensions": {"gpu_type": "h100"},
        "source": "test",
        "arrived_at": arrived_at,
    }


def land(data_dir: Path, arrival: str, events: list[dict]) -> None:
    folder = data_dir / "landing" / "usage" / f"arrival_date={arrival}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def e2e(make_warehouse: Callable) -> object:
    from ingestion.landing import load_landing

    wh = make_warehouse("e2e")
    catalog = Path(wh.env["USAGEBILL_CATALOG_DIR"])
    # the issuer and tax rates come from the shipped examples (the loader's fallback)
    for name in ("issuer.yaml", "tax_rates.yaml"):
        (catalog / name).unlink()
    for name in ("meters.yaml", "plans.yaml"):
        shutil.copyfile(EXAMPLES / name, catalog / name)
    for name in ("customers.yaml", "subscriptions.yaml"):
        shutil.copyfile(HERE / "e2e_catalog" / name, catalog / name)
    raw = Path(wh.env["USAGEBILL_RAW_DIR"])
    data = Path(wh.env["USAGEBILL_DATA_DIR"])
    load_catalog(str(catalog), str(raw))
    from usagebill.invoices.tax_config import write_raw

    write_raw(catalog, raw)
    land(
        data,
        "2026-05-31",
        [
            event("us-1", "cus_us", "2026-05-10T12:00:00Z", 60_000_000, "2026-05-10T12:00:01Z"),
            event("de-1", "cus_de", "2026-05-12T08:00:00Z", 100_000_000, "2026-05-12T08:00:01Z"),
        ],
    )
    load_landing(data, raw, progress=lambda message: None)
    select = [
        "--select",
        "+tag:invoicing",
        "tag:invoicing_reconciliation",
        "tag:invoicing_lineage",
        "--indirect-selection",
        "cautious",
    ]
    wh.dbt("build", *select, as_of="2026-06-04")
    wh.run1 = wh.query("select invoice_number, total from billing.fct_invoices order by invoice_sequence")
    # a May event that arrives on 2026-06-10, after the May invoices were issued (2026-06-04)
    land(
        data,
        "2026-06-10",
        [event("us-late", "cus_us", "2026-05-31T12:00:00Z", 1_000_000, "2026-06-10T08:00:00Z")],
    )
    load_landing(data, raw, progress=lambda message: None)
    wh.dbt("build", *select, as_of="2026-06-12")
    return wh


def test_real_rating_gives_hand_computed_invoices(e2e) -> None:
    # 1: cus_us May fee in advance (issued 2026-05-04): 500.00
    # 2: cus_de May usage: 100,000,000 ms = 100,000 x 1K x 0.01 = EUR 1,000.00, reverse charge 0 %
    # 3: cus_us June fee 500.00 + May overage (60,000,000 - 50,000,000) / 1K x 0.009 = 90.00 -> 590.00
    assert e2e.run1 == [
        ("UB-2026-000001", D("500")),
        ("UB-2026-000002", D("1000")),
        ("UB-2026-000003", D("590")),
    ]
    gpu = e2e.query(
        "select quantity, included_quantity, amount from billing.fct_invoice_lines"
        " where invoice_number = 'UB-2026-000003' and line_type = 'usage'"
    )
    assert gpu == [(D("60000000"), D("50000000"), D("90"))]  # 60M used, 50M included -> 10M billed
    de = e2e.query(
        "select currency, tax_amount, is_reverse_charge from billing.fct_invoices where customer_id = 'cus_de'"
    )
    assert de == [("EUR", 0, True)]


def test_late_event_after_issue_gives_debit_note_on_original_period(e2e) -> None:
    # the late 1,000,000 ms are all overage: 1,000 x 1K ms x 0.009 = 9.00; the invoice stays at 590.00
    assert (
        e2e.query("select invoice_number, total from billing.fct_invoices order by invoice_sequence")
        == e2e.run1
    )
    notes = e2e.query(
        """select n.credit_note_number, n.kind, i.invoice_number, n.period_start, n.amount, n.amount_minor, n.reason
           from billing.fct_credit_notes n join billing.fct_invoices i on n.original_invoice_id = i.invoice_id"""
    )
    assert len(notes) == 1
    number, kind, original, period_start, amount, minor, reason = notes[0]
    assert (number, kind, original, period_start, amount, minor) == (
        "UBCN-2026-000001",
        "debit",
        "UB-2026-000003",
        date(2026, 5, 1),
        D("9.00"),
        900,
    )
    assert reason.startswith("Late usage: 1 usage events")


def test_recompute_as_of_a_date(e2e, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # as of 2026-06-05 the late event had not arrived: the recomputation equals the issued 590.00,
    # so the debit note issued later (+9.00) is the whole difference: 590 - 590 - 9 = -9.00
    before = recompute_invoice("UB-2026-000003", date(2026, 6, 5), e2e.path, tmp_path / "a", progress=print)
    assert (before.issued_total, before.corrections_total, before.recomputed_total) == (
        D("590"),
        D("9"),
        D("590"),
    )
    assert before.difference == D("-9")
    assert "Corrections issued since: UBCN-2026-000001" in format_comparison(before)
    # as of 2026-06-12 it had: 500 + 11,000,000 / 1K x 0.009 = 599.00 = 590.00 issued + 9.00 debit note
    # (through the CLI entry point, which prints the comparison)
    argv = [
        "recompute",
        "--invoice-id",
        "UB-2026-000003",
        "--as-of",
        "2026-06-12",
        "--warehouse",
        str(e2e.path),
    ]
    assert invoices_main(argv) == 0
    out = capsys.readouterr().out
    total_line = next(line for line in out.splitlines() if line.startswith("total "))
    assert total_line.split() == ["total", "590.00", "9.00", "599.00", "0.00"]
    assert "match the recomputation" in out


class TextByClass(HTMLParser):
    """Collects the text of every element by its class attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: dict[str, list[str]] = {}
        self.all_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.all_text.append(data.strip())
            for classes in self.stack:
                for name in classes.split():
                    self.found.setdefault(name, []).append(data.strip())


def test_documents_contain_the_required_fields(e2e, tmp_path: Path) -> None:
    out = tmp_path / "invoices"
    written = documents.render_all(out, e2e.path)
    # 3 invoices + 1 debit note, HTML and PDF each
    assert sorted(p.name for p in written if p.suffix == ".pdf") == [
        "UB-2026-000001.pdf",
        "UB-2026-000002.pdf",
        "UB-2026-000003.pdf",
        "UBCN-2026-000001.pdf",
    ]
    # issued documents never change: a second render writes nothing, --force writes them again
    assert documents.render_all(out, e2e.path) == []
    assert len(documents.render_all(out, e2e.path, force=True)) == 8
    page = TextByClass()
    page.feed((out / "UB-2026-000002.html").read_text(encoding="utf-8"))
    text = " ".join(page.all_text)
    assert page.found["number"][0] == "UB-2026-000002"
    assert page.found["issue-date"] == ["2026-06-04"] and page.found["due-date"] == [
        "2026-07-04"
    ]  # + 30 days
    assert page.found["service-period"] == ["2026-05-01 to 2026-05-31"]
    assert page.found["currency"] == ["EUR"] and page.found["total"] == ["1,000.00 EUR"]
    for required in (
        "GPU Cloud SAS",
        "12 rue de la Paix",
        "VAT / tax id: FR40123456789",
        "Berlin Robotics GmbH",
        "Unter den Linden 1",
        "VAT / tax id: DE123456789",
        "VAT reverse charge 0%",
        REVERSE_CHARGE_NOTE,
        "Payment terms: 30 days",
    ):
        assert required in text, required
    starter = (out / "UB-2026-000003.html").read_text(encoding="utf-8")
    assert "GPU time (gpu_type=h100), 50,000,000 included" in starter
    note = TextByClass()
    note.feed((out / "UBCN-2026-000001.html").read_text(encoding="utf-8"))
    assert note.found["original-invoice"] == ["UB-2026-000003"] and note.found["total"] == ["9.00 USD"]
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is missing: run scripts/ensure-system-deps.sh")
    pdf = subprocess.run(
        ["pdftotext", "-layout", str(out / "UB-2026-000002.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = subprocess.run(
        ["pdfinfo", str(out / "UB-2026-000002.pdf")], capture_output=True, text=True, check=True
    )
    assert re.search(r"^Pages:\s+1$", info.stdout, re.MULTILINE), info.stdout
    for required in (
        "Invoice UB-2026-000002",
        "GPU Cloud SAS",
        "FR40123456789",
        "DE123456789",
        "1,000.00 EUR",
        "Reverse charge: VAT to be accounted for by the recipient",
        "2026-07-04",
    ):
        assert required in pdf, required


def test_reconciliation_tests_catch_tampering(e2e, tmp_path: Path) -> None:
    """The dbt reconciliation tests are not vacuous: on a tampered copy of the warehouse they fail."""
    import duckdb

    copy = tmp_path / "tampered.duckdb"
    shutil.copyfile(e2e.path, copy)
    con = duckdb.connect(str(copy))
    try:
        # an invoice total that no longer equals its lines, and 1 ms of GPU the journal never saw
        con.execute(
            "update billing.fct_invoices set total = total + 0.01 where invoice_number = 'UB-2026-000002'"
        )
        con.execute(
            "update billing.fct_billing_lines set quantity = quantity + 1 where customer_id = 'cus_de'"
        )
        # and a current invoice line that differs from what was issued, with no note for it
        con.execute(
            "update intermediate.int_invoice_lines_credited set amount = amount + 1 where customer_id = 'cus_de'"
        )
    finally:
        con.close()
    tampered = type(e2e)(tmp_path, {**e2e.env, "USAGEBILL_WAREHOUSE": str(copy)})
    tests = [
        "assert_invoice_totals_equal_sum_of_lines",
        "assert_rated_usage_equals_journal",
        "assert_issued_documents_equal_current_rating",
    ]
    with pytest.raises(AssertionError) as failed:
        tampered.dbt("test", "--select", *tests, as_of="2026-06-12")
    output = str(failed.value)
    assert re.search(r"FAIL 1 assert_invoice_totals_equal_sum_of_lines", output), output
    assert re.search(r"FAIL 1 assert_rated_usage_equals_journal", output), output
    assert re.search(r"FAIL 1 assert_issued_documents_equal_current_rating", output), output


def test_line_lineage_reaches_the_journal_events(e2e) -> None:
    # UB-2026-000003 (cus_us): the May GPU line is backed by us-1 (60,000,000 ms, arrived 2026-05-10
    # 12:00:01, before the 2026-06-04 issue) and us-late (1,000,000 ms, arrived 2026-06-10, after issue)
    rows = e2e.query(
        """select l.line_number, l.event_id, l.event_quantity, l.event_source, l.arrived_at, l.arrived_after_issue,
                  l.rollup_hour_start
           from billing.fct_invoice_line_lineage l
           where l.document_number = 'UB-2026-000003' order by l.event_ts"""
    )
    assert [(r[1], r[2], r[3], str(r[4]), r[5], str(r[6])) for r in rows] == [
        ("us-1", D("60000000"), "test", "2026-05-10 12:00:01", False, "2026-05-10 12:00:00"),
        ("us-late", D("1000000"), "test", "2026-06-10 08:00:00", True, "2026-05-31 12:00:00"),
    ]
    (usage_line,) = {r[0] for r in rows}
    assert e2e.query(
        "select line_type from billing.fct_issued_lines where document_number = 'UB-2026-000003' and line_number = ?",
        [usage_line],
    ) == [("usage",)]
    # the debit note for the late event traces to the same events
    assert e2e.query(
        "select count(*) from billing.fct_invoice_line_lineage where document_number = 'UBCN-2026-000001'"
    ) == [(2,)]


def test_explain_cli_shows_computation_and_events(e2e, capsys: pytest.CaptureFixture[str]) -> None:
    from usagebill.invoices.explain import main as explain_main

    (usage_line,) = e2e.query(
        "select line_number from billing.fct_issued_lines where document_number = 'UB-2026-000003'"
        " and line_type = 'usage'"
    )[0:1]
    code = explain_main(["UB-2026-000003", "--line", str(usage_line[0]), "--warehouse", str(e2e.path)])
    out = capsys.readouterr().out
    assert code == 0, out
    # starter plan: 50,000,000 ms included, 60,000,000 used at issue -> 10,000 x 1K ms x 0.009 = 90.00
    assert "plan starter version 1" in out
    assert "included in the plan: 50000000 units at 0" in out
    assert "-> rounded once (half-up) 90 USD" in out
    assert "usage: 2 journal events, quantity 61000000, in 2 hourly rollup rows" in out
    assert (
        "event us-1  at 2026-05-10 12:00:00  quantity 60000000  source test  arrived 2026-05-10 12:00:01"
        in out
    )
    assert "event us-late" in out and "LATE (after issue)" in out
    # the invoice's figures in the order of invoice arithmetic: 500 fee + 90 usage, no tax (US)
    assert "total            590 USD" in out and "amount_due       590 USD" in out
    assert explain_main(["UB-2026-999999", "--warehouse", str(e2e.path)]) == 1
    assert "no issued invoice or note numbered 'UB-2026-999999'" in capsys.readouterr().err
    assert explain_main(["UB-2026-000003", "--line", "99", "--warehouse", str(e2e.path)]) == 1
    assert "there is no line 99" in capsys.readouterr().err
