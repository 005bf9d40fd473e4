"""Document rendering without a warehouse: HTML escaping, the core-font fallback of the PDF."""

from __future__ import annotations

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
