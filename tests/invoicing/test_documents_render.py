"""Document rendering without a warehouse: HTML escaping, the core-font fallback of the PDF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from usagebill.invoices import documents
from usagebill.invoices.documents import Document, Line, Party, TaxRow


def sample() -> Document:
    return Document(
        document_id="inv_x",
        kind="invoice",
        number="UB-2026-000042",
        issue_date=date(2026, 6, 4),
        due_date=date(2026, 7, 4),
        period_start=date(2026, 5, 1),
        period_end=date(2026, 6, 1),
        currency="EUR",
        seller=Party("GPU Cloud SAS", ["12 rue de la Paix", "75002 Paris", "FR"], "FR40123456789", None),
        buyer=Party(
            "Cäsar <Vision> GmbH – Labs", ["Unter den Linden 5", "10117 Berlin", "DE"], "DE123456789", None
        ),
        payment_terms_days=30,
        lines=[
            Line(1, "GPU time", "2026-05-01 to 2026-05-31", "9,000,000", "0.00001", "90.00", "VAT 0%", "0%")
        ],
        taxes=[TaxRow("VAT reverse charge 0%", "90.00", "0.00")],
        subtotal="90.00",
        tax_total="0.00",
        total="90.00",
        notes=[
            "Reverse charge: VAT to be accounted for by the recipient, Art. 196 Council Directive 2006/112/EC"
        ],
    )


def test_html_escapes_customer_text() -> None:
    html = documents.render_html(sample())
    assert "Cäsar &lt;Vision&gt; GmbH – Labs" in html and "<Vision>" not in html
    assert 'Service period</th><td class="service-period">2026-05-01 to 2026-05-31' in html


def test_money_and_quantity_formats() -> None:
    # JPY has no minor unit, KWD three decimals; quantities drop trailing zeros
    assert documents.format_money(Decimal("27002"), "JPY") == "27,002"
    assert documents.format_money(Decimal("1.5"), "KWD") == "1.500"
    assert documents.format_quantity(Decimal("60000000.000000000000")) == "60,000,000"
    assert documents.format_quantity(Decimal("0.500000")) == "0.5"


@pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) missing: scripts/ensure-system-deps.sh"
)
def test_pdf_falls_back_to_core_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        documents, "UNICODE_FONTS", {"": tmp_path / "missing.ttf", "B": tmp_path / "missing.ttf"}
    )
    path = tmp_path / "doc.pdf"
    documents.render_pdf(sample(), path)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    # Latin-1 text survives (ä); characters outside it (the en dash) become "?"
    assert "Invoice UB-2026-000042" in text and "Cäsar <Vision> GmbH ? Labs" in text
    assert "Reverse charge: VAT to be accounted for by the recipient" in text


def variant(number: str, buyer: str, amount: str = "90.00") -> Document:
    document = sample()
    document.document_id = f"inv_{number}"
    document.number = number
    document.buyer = Party(buyer, ["Unter den Linden 5", "10117 Berlin", "DE"], "DE123456789", None)
    document.lines[0].amount = document.subtotal = document.total = amount
    return document


DEJAVU = all(path.exists() for path in documents.UNICODE_FONTS.values())


@pytest.mark.skipif(not DEJAVU, reason="DejaVu fonts missing: scripts/ensure-system-deps.sh")
def test_cached_fonts_give_the_same_bytes_as_parsing_them(tmp_path: Path) -> None:
    # the fpdf2 fallback (render_pdf_fpdf2) reuses the font parsed for the first document
    # (documents._add_font): the PDF must be byte-identical to one rendered with a fresh font
    documents._FONT_CACHE.clear()
    documents.render_pdf_fpdf2(sample(), tmp_path / "parsed.pdf")
    assert len(documents._FONT_CACHE) == 2  # regular + bold, kept for the next document
    documents.render_pdf_fpdf2(variant("UB-2026-000043", "Другая фирма"), tmp_path / "other.pdf")
    documents.render_pdf_fpdf2(sample(), tmp_path / "cached.pdf")
    assert (tmp_path / "parsed.pdf").read_bytes() == (tmp_path / "cached.pdf").read_bytes()
    documents._FONT_CACHE.clear()
    documents.render_pdf_fpdf2(variant("UB-2026-000043", "Другая фирма"), tmp_path / "other-parsed.pdf")
    assert (tmp_path / "other.pdf").read_bytes() == (tmp_path / "other-parsed.pdf").read_bytes()


def test_parallel_output_is_byte_identical_to_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [variant(f"UB-2026-{i:06d}", f"Customer {i} – Ünïcode", f"{i}.00") for i in range(1, 9)]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert documents.render_documents(batch, serial, workers=1, log=lambda _: None) == 8

    def not_here(*_: object) -> None:
        raise AssertionError("rendered in the calling process: the pool was not used")

    # 8 documents >= MIN_DOCUMENTS_PER_WORKER x 2 workers: the pool renders them; its (spawned)
    # processes import the real render_one, this process must not render any
    monkeypatch.setattr(documents, "render_one", not_here)
    lines: list[str] = []
    assert documents.render_documents(batch, parallel, workers=2, log=lines.append) == 8
    names = sorted(p.name for p in serial.iterdir())
    assert len(names) == 16 and names == sorted(p.name for p in parallel.iterdir())
    for name in names:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
    assert lines[-1].startswith("invoice documents: 8/8 documents (100 %) done in")


def test_only_new_or_changed_documents_are_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = [variant("UB-2026-000001", "Alpha GmbH"), variant("UB-2026-000002", "Beta GmbH")]
    monkeypatch.setattr(documents, "load_documents", lambda warehouse=None, number=None: list(issued))
    quiet = {"workers": 1, "log": lambda _: None}
    out = tmp_path / "invoices"
    first = documents.render_all(out, **quiet)
    assert sorted(p.name for p in first) == [
        "UB-2026-000001.html",
        "UB-2026-000001.pdf",
        "UB-2026-000002.html",
        "UB-2026-000002.pdf",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["documents"]) == {"UB-2026-000001", "UB-2026-000002"}
    assert manifest["documents"]["UB-2026-000001"]["number"] == "UB-2026-000001"
    # unchanged: nothing rendered, files untouched
    stamp = (out / "UB-2026-000001.pdf").stat().st_mtime_ns
    assert documents.render_all(out, **quiet) == []
    assert (out / "UB-2026-000001.pdf").stat().st_mtime_ns == stamp
    # one document changed (its buyer's name): only it is rendered again, with the new content
    issued[1] = variant("UB-2026-000002", "Beta Renamed GmbH")
    assert [p.name for p in documents.render_all(out, **quiet)] == [
        "UB-2026-000002.html",
        "UB-2026-000002.pdf",
    ]
    assert "Beta Renamed GmbH" in (out / "UB-2026-000002.html").read_text(encoding="utf-8")
    assert (out / "UB-2026-000001.pdf").stat().st_mtime_ns == stamp
    # a new document, and a deleted file, are rendered; --force renders everything
    issued.append(variant("UB-2026-000003", "Gamma SARL"))
    (out / "UB-2026-000001.pdf").unlink()
    assert sorted(p.stem for p in documents.render_all(out, **quiet)) == [
        "UB-2026-000001",
        "UB-2026-000001",
        "UB-2026-000003",
        "UB-2026-000003",
    ]
    assert len(documents.render_all(out, force=True, **quiet)) == 6
    # an unreadable manifest is not trusted: everything is rendered again
    (out / "manifest.json").write_text("{not json")
    assert len(documents.render_all(out, **quiet)) == 6
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_a_template_or_renderer_change_changes_every_digest() -> None:
    document = sample()
    assert documents.document_digest(document, "renderer-a") != documents.document_digest(
        document, "renderer-b"
    )
    changed = sample()
    changed.lines[0].amount = "90.01"
    assert documents.document_digest(document, "r") != documents.document_digest(changed, "r")
    assert documents.document_digest(document, "r") == documents.document_digest(sample(), "r")


@pytest.mark.parametrize("value", ["zero", "0", "1000"])
def test_worker_setting_is_checked(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEBILL_DOCUMENT_WORKERS", value)
    with pytest.raises(ValueError, match="USAGEBILL_DOCUMENT_WORKERS"):
        documents.default_workers()


def test_tier_split_rows_of_a_graduated_charge() -> None:
    # Stripe's graduated example (docs.stripe.com/products-prices/pricing-models#graduated-pricing):
    # 1-5 at $7, 6-10 at $6.50, 11+ at $6; 20 units = 5 x 7 + 5 x 6.50 + 10 x 6 = 35 + 32.50 + 60 = 127.50,
    # with 3 more units included in the plan (not billed). Each tier is its own row with its quantity
    # and price, instead of "23 units, 3 included".
    breakdown = (
        '[{"tier":1,"quantity":"5","unit_price":"7","unit_size":"1","flat_fee":"0","amount":"35"},'
        '{"tier":2,"quantity":"5","unit_price":"6.50","unit_size":"1","flat_fee":"0","amount":"32.5"},'
        '{"tier":3,"quantity":"10","unit_price":"6","unit_size":"1","flat_fee":"0","amount":"60"}]'
    )
    rows = documents.tier_rows(breakdown, Decimal("3"), "USD")
    assert [(r.label, r.quantity, r.unit_price, r.amount) for r in rows] == [
        ("Included in plan", "3", "0", "0.00"),
        ("Tier 1", "5", "7", "35.00"),
        ("Tier 2", "5", "6.5", "32.50"),
        ("Tier 3", "10", "6", "60.00"),
    ]
    # a price per block of 1,000 units with a flat fee shows both
    (row,) = documents.tier_rows(
        '[{"tier":1,"quantity":"2500","unit_price":"0.5","unit_size":"1000","flat_fee":"2","amount":"3.25"}]',
        None,
        "EUR",
    )
    assert (row.quantity, row.unit_price, row.amount) == ("2,500", "0.5 per 1,000 + 2.00 flat", "3.25")
    # not a tier split (a percentage fee breakdown, or no breakdown): no rows
    assert documents.tier_rows('[{"events":3,"fee":"1.5"}]', None, "USD") == []
    assert documents.tier_rows(None, Decimal("5"), "USD") == []
    document = sample()
    document.lines[0].tiers = rows
    html = documents.render_html(document)
    assert '<td class="num tier-quantity">5</td><td class="num tier-price">6.5</td>' in html
    assert '<td class="num tier-amount">32.50</td>' in html


def test_totals_show_every_figure_in_order() -> None:
    # the issue's worked example: fees 140, coupon 20, taxable 120, VAT 24, total 144, credit 50, due 94
    document = sample()
    document.subtotal, document.discount_total, document.taxable_amount = "140.00", "-20.00", "120.00"
    document.tax_total, document.total, document.credits_applied, document.amount_due = (
        "24.00",
        "144.00",
        "-50.00",
        "94.00",
    )
    html = documents.render_html(document)
    order = [
        "subtotal",
        "discount-total",
        "taxable-amount",
        "tax-total",
        "total",
        "credits-applied",
        "amount-due",
    ]
    positions = [html.index(f'class="num {name}"') for name in order]
    assert positions == sorted(positions)
    assert 'class="num amount-due">94.00 EUR' in html and 'class="num credits-applied">-50.00 EUR' in html


def test_the_cli_shows_progress_and_time_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from usagebill.invoices import cli

    issued = [variant(f"UB-2026-{i:06d}", f"Customer {i}") for i in range(1, 46)]
    monkeypatch.setattr(documents, "load_documents", lambda warehouse=None, number=None: list(issued))
    out = tmp_path / "invoices"
    argv = ["render", "--out", str(out), "--workers", "1", "--progress-seconds", "0"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "invoice documents: reading the issued documents from the warehouse"
    assert re.fullmatch(
        r"invoice documents: 45 issued documents read and compared with manifest.json in \d+ s; 45 to render",
        lines[1],
    ), lines[1]
    # serial rendering goes in batches of 20: progress after 20, 40 and 45 of 45 (44, 88 and 100 %),
    # with the time left while some are left, then the total
    assert re.fullmatch(r"invoice documents: 20/45 documents \(44 %\), [\d.,]+/s, about .+ left", lines[2]), (
        lines
    )
    assert re.fullmatch(r"invoice documents: 40/45 documents \(88 %\), [\d.,]+/s, about .+ left", lines[3]), (
        lines
    )
    assert re.fullmatch(r"invoice documents: 45/45 documents \(100 %\), [\d.,]+/s", lines[4]), lines
    assert lines[5].startswith("invoice documents: 45/45 documents (100 %) done in")
    assert lines[6] == f"invoices: rendered 45 documents (HTML + PDF) to {out}"
    assert cli.main([*argv[:-1], "-1"]) == 1
    assert "--progress-seconds -1.0: use 0 to 3600 seconds" in capsys.readouterr().err


def test_documents_are_built_across_fetch_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 invoices of 3 lines read 2 ledger rows at a time: every document's rows are split across
    # chunks, yet each comes out whole. Line n: net 10.5 x n, tax 2.1 x n (20 %), gross 12.6 x n;
    # per invoice net 10.5 x (1 + 2 + 3) = 63.00, tax 2.1 x 6 = 12.60, total 12.6 x 6 = 75.60 EUR
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema billing")
    con.execute(
        """
        create table billing.fct_issued_lines as
        select 'inv_' || i as document_id, 'invoice' as document_type, i as document_sequence,
          'UB-2026-00000' || i as document_number, date '2026-05-04' as issue_date, date '2026-06-03' as due_date,
          date '2026-04-01' as document_period_start, date '2026-05-01' as document_period_end,
          'EUR' as currency, 'GPU Cloud SAS' as issuer_legal_name, null as issuer_address_json,
          'FR40123456789' as issuer_tax_id, null as issuer_email, 'Customer ' || i as buyer_name,
          'cus_' || i as customer_id, null as buyer_address_json, null as buyer_tax_id, null as buyer_email,
          30 as payment_terms_days, null as source_invoice_number, null as reason, 'usage' as line_type,
          cast(n * 10.5 as decimal(38, 9)) as amount, 'GPU time' as description, 'gpu' as charge_id,
          date '2026-04-01' as period_start, date '2026-05-01' as period_end, null as tier_breakdown_json,
          null as included_quantity, cast(n as decimal(38, 9)) as quantity, cast(10.5 as decimal(38, 9)) as unit_price,
          cast(0.2 as decimal(9, 6)) as tax_rate, false as is_tax_inclusive, 'VAT' as tax_name,
          'fr_vat_20' as tax_rate_id, cast(n * 10.5 as decimal(38, 9)) as net_amount,
          cast(n * 2.1 as decimal(38, 9)) as tax_amount, cast(n * 12.6 as decimal(38, 9)) as gross_amount,
          null as tax_note, n as line_number
        from range(1, 4) as d(i), range(1, 4) as l(n)
        """
    )
    con.close()
    monkeypatch.setattr(documents, "FETCH_ROWS", 2)
    loaded = documents.load_documents(path)
    assert [d.number for d in loaded] == ["UB-2026-000001", "UB-2026-000002", "UB-2026-000003"]
    for document in loaded:
        assert [line.number for line in document.lines] == [1, 2, 3]
        assert (document.subtotal, document.tax_total, document.total) == ("63.00", "12.60", "75.60")
    assert [d.buyer.name for d in documents.load_documents(path, "UB-2026-000002")] == ["Customer 2"]
