"""Invoice and credit/debit note documents: HTML (jinja2) and PDF (fpdf2) for every issued document.

Everything printed comes from the append-only ledger billing.fct_issued_lines, where the seller's
and the buyer's details were frozen when the document was issued, so a re-render gives the same
document. Files: <out>/<document number>.html and .pdf (overwritten on re-render; idempotent).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from usagebill.money import minor_unit
from usagebill.paths import reports_dir, warehouse_path

UNICODE_FONTS = {
    "": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "B": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}
TITLES = {"invoice": "Invoice", "credit_note": "Credit note", "debit_note": "Debit note"}


@dataclass
class Party:
    name: str
    address_lines: list[str]
    tax_id: str | None
    email: str | None


@dataclass
class Line:
    number: int
    description: str
    period: str
    quantity: str
    unit_price: str
    amount: str
    tax_label: str
    tax_percent: str
    # the tier split of a tiered charge: one row per tier with its quantity, price and amount
    tiers: list[TierRow] = field(default_factory=list)


@dataclass
class TierRow:
    label: str
    quantity: str
    unit_price: str
    amount: str


@dataclass
class TaxRow:
    label: str
    taxable: str
    tax: str


@dataclass
class Document:
    document_id: str
    kind: str
    number: str
    issue_date: date
    due_date: date | None
    period_start: date | None
    period_end: date | None
    currency: str
    seller: Party
    buyer: Party
    payment_terms_days: int | None
    lines: list[Line] = field(default_factory=list)
    taxes: list[TaxRow] = field(default_factory=list)
    subtotal: str = ""
    discount_total: str = ""
    taxable_amount: str = ""
    tax_total: str = ""
    total: str = ""
    credits: list[Line] = field(default_factory=list)
    credits_applied: str = ""
    amount_due: str = ""
    notes: list[str] = field(default_factory=list)
    original_invoice_number: str | None = None
    reason: str | None = None

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def service_period(self) -> str:
        return _period(self.period_start, self.period_end)

    @property
    def filename(self) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.number)


def _period(start: date | None, end: date | None) -> str:
    """Half-open [start, end) shown as the first and last day served."""
    if start is None or end is None:
        return ""
    last = date.fromordinal(end.toordinal() - 1) if end > start else end
    return f"{start.isoformat()} to {last.isoformat()}"


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    digits = minor_unit(currency)
    return f"{Decimal(amount):,.{digits}f}"


def format_quantity(value: Decimal | None) -> str:
    if value is None:
        return ""
    normalized = Decimal(value).normalize()
    if normalized == normalized.to_integral_value():
        return f"{normalized.quantize(Decimal(1)):,}"
    return f"{normalized:,f}"


def format_unit_price(value: Decimal | None) -> str:
    if value is None:
        return ""  # flat fees and tiered prices (the billing line's tier breakdown has the detail)
    return format(Decimal(value).normalize(), "f")


def _address(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        address = json.loads(raw)
    except ValueError:
        return [raw]
    if not isinstance(address, dict):
        return [str(address)]
    city = " ".join(str(address[k]) for k in ("postal_code", "city") if address.get(k))
    parts = [address.get("line1"), address.get("line2"), city, address.get("state"), address.get("country")]
    return [str(part) for part in parts if part]


def _tax_percent(row: dict[str, Any]) -> str:
    rate = row["tax_rate"]
    percent = format((Decimal(rate) * 100).normalize(), "f") if rate is not None else "?"
    return f"{percent}%" + (" incl." if row["is_tax_inclusive"] else "")


def _tax_label(row: dict[str, Any]) -> str:
    return f"{row['tax_name'] or row['tax_rate_id']} {_tax_percent(row)}"


def load_documents(warehouse: Path | None = None, number: str | None = None) -> list[Document]:
    """Every issued document (or the one numbered `number`) from billing.fct_issued_lines."""
    path = warehouse_path() if warehouse is None else warehouse
    if not path.exists():
        raise FileNotFoundError(f"warehouse {path} not found: build it first (make demo, or dbt build)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(
            "select * from billing.fct_issued_lines"
            + (" where document_number = ?" if number else "")
            + " order by document_type, document_sequence, line_number",
            [number] if number else [],
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    except duckdb.CatalogException as error:
        raise RuntimeError(
            f"{path} has no billing.fct_issued_lines ({error}); run the dbt build of the billing models first"
        ) from None
    finally:
        con.close()
    by_document: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_document[row["document_id"]].append(row)
    return [_document(lines) for lines in by_document.values()]


def _document(rows: list[dict[str, Any]]) -> Document:
    head = rows[0]
    currency = head["currency"]
    document = Document(
        document_id=head["document_id"],
        kind=head["document_type"],
        number=head["document_number"],
        issue_date=head["issue_date"],
        due_date=head["due_date"],
        period_start=head["document_period_start"],
        period_end=head["document_period_end"],
        currency=currency,
        seller=Party(
            head["issuer_legal_name"],
            _address(head["issuer_address_json"]),
            head["issuer_tax_id"],
            head["issuer_email"],
        ),
        buyer=Party(
            head["buyer_name"] or head["customer_id"],
            _address(head["buyer_address_json"]),
            head["buyer_tax_id"],
            head["buyer_email"],
        ),
        payment_terms_days=head["payment_terms_days"],
        original_invoice_number=head["source_invoice_number"] if head["document_type"] != "invoice" else None,
        reason=head["reason"] if head["document_type"] != "invoice" else None,
    )
    fees = discounts = taxable = tax_total = total = credits = Decimal(0)
    taxes: dict[str, list[Decimal]] = {}
    tax_labels: dict[str, str] = {}
    notes: list[str] = []
    for row in rows:
        if row["line_type"] == "credit_applied":
            # prepaid credits pay the invoice after tax: shown under the total, never taxed
            credits -= row["amount"]
            document.credits.append(
                Line(
                    number=row["line_number"],
                    description=row["description"] or row["charge_id"],
                    period=_period(row["period_start"], row["period_end"]),
                    quantity="",
                    unit_price="",
                    amount=format_money(row["amount"], currency),
                    tax_label="",
                    tax_percent="",
                )
            )
            continue
        label = _tax_label(row)
        tiers = tier_rows(row.get("tier_breakdown_json"), row.get("included_quantity"), currency)
        document.lines.append(
            Line(
                number=row["line_number"],
                description=(row["description"] or row["charge_id"])
                + (
                    f", {format_quantity(row['included_quantity'])} included"
                    if row["included_quantity"] and not tiers
                    else ""
                ),
                period=_period(row["period_start"], row["period_end"]),
                quantity=format_quantity(row["quantity"]),
                unit_price=format_unit_price(row["unit_price"]),
                amount=format_money(row["amount"], currency),
                tax_label=label,
                tax_percent=_tax_percent(row),
                tiers=tiers,
            )
        )
        if row["line_type"] == "discount":
            discounts -= row["net_amount"]
        else:
            fees += row["net_amount"]
        taxable += row["net_amount"]
        tax_total += row["tax_amount"]
        total += row["gross_amount"]
        sums = taxes.setdefault(row["tax_rate_id"], [Decimal(0), Decimal(0)])
        sums[0] += row["net_amount"]
        sums[1] += row["tax_amount"]
        tax_labels[row["tax_rate_id"]] = label
        if row["tax_note"] and row["tax_note"] not in notes:
            notes.append(row["tax_note"])
    document.taxes = [
        TaxRow(tax_labels[rate_id], format_money(sums[0], currency), format_money(sums[1], currency))
        for rate_id, sums in taxes.items()
    ]
    document.subtotal = format_money(fees, currency)
    # discounts and credits reduce what is owed: printed negative (never "-0")
    document.discount_total = format_money(-discounts if discounts else discounts, currency)
    document.taxable_amount = format_money(taxable, currency)
    document.tax_total = format_money(tax_total, currency)
    document.total = format_money(total, currency)
    document.credits_applied = format_money(-credits if credits else credits, currency)
    document.amount_due = format_money(total - credits, currency)
    document.notes = notes
    return document


def tier_rows(breakdown_json: str | None, included: Decimal | None, currency: str) -> list[TierRow]:
    """The tier split of a tiered usage line (billing line tier_breakdown_json, docs/pricing.md):
    one row per tier with the quantity priced in it, its unit price (per unit size), the flat fee
    if any, and its amount; plus the units included in the plan, at no charge. Empty for a line
    that is not tiered."""
    if not breakdown_json:
        return []
    try:
        tiers = json.loads(breakdown_json)
    except ValueError:
        return []
    if not isinstance(tiers, list) or not all(isinstance(t, dict) and "tier" in t for t in tiers):
        return []  # e.g. a percentage charge's fee breakdown: not a tier split
    rows: list[TierRow] = []
    if included:
        rows.append(
            TierRow(
                "Included in plan",
                format_quantity(Decimal(included)),
                "0",
                format_money(Decimal(0), currency),
            )
        )
    for tier in tiers:
        unit_size = Decimal(str(tier.get("unit_size") or "1"))
        price = format_unit_price(Decimal(str(tier.get("unit_price") or "0")))
        if unit_size != 1:
            price = f"{price} per {format_quantity(unit_size)}"
        flat = Decimal(str(tier.get("flat_fee") or "0"))
        if flat:
            price = f"{price} + {format_money(flat, currency)} flat"
        rows.append(
            TierRow(
                f"Tier {tier['tier']}",
                format_quantity(Decimal(str(tier.get("quantity") or "0"))),
                price,
                format_money(Decimal(str(tier.get("amount") or "0")), currency),
            )
        )
    return rows


HTML_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ d.title }} {{ d.number }}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:4px 6px;border-bottom:1px solid #ddd;text-align:left}
td.num,th.num{text-align:right}.parties{display:flex;justify-content:space-between;margin:1em 0}
.totals td{border:none}.note{margin-top:1em;padding:6px;border:1px solid #999}
</style></head><body>
<h1><span class="doc-title">{{ d.title }}</span> <span class="number">{{ d.number }}</span></h1>
<table class="meta">
<tr><th>Number</th><td class="number">{{ d.number }}</td></tr>
<tr><th>Issue date</th><td class="issue-date">{{ d.issue_date }}</td></tr>
{% if d.due_date %}<tr><th>Due date</th><td class="due-date">{{ d.due_date }}</td></tr>{% endif %}
<tr><th>Service period</th><td class="service-period">{{ d.service_period }}</td></tr>
<tr><th>Currency</th><td class="currency">{{ d.currency }}</td></tr>
{% if d.original_invoice_number %}<tr><th>Original invoice</th><td class="original-invoice">{{ d.original_invoice_number }}</td></tr>{% endif %}
{% if d.reason %}<tr><th>Reason</th><td class="reason">{{ d.reason }}</td></tr>{% endif %}
</table>
<div class="parties">
<div class="seller"><h2>Seller</h2><div class="name">{{ d.seller.name }}</div>
{% for line in d.seller.address_lines %}<div>{{ line }}</div>{% endfor %}
<div class="tax-id">VAT / tax id: {{ d.seller.tax_id }}</div>{% if d.seller.email %}<div>{{ d.seller.email }}</div>{% endif %}</div>
<div class="buyer"><h2>Bill to</h2><div class="name">{{ d.buyer.name }}</div>
{% for line in d.buyer.address_lines %}<div>{{ line }}</div>{% endfor %}
{% if d.buyer.tax_id %}<div class="tax-id">VAT / tax id: {{ d.buyer.tax_id }}</div>{% endif %}</div>
</div>
<table class="lines"><thead><tr><th>#</th><th>Description</th><th>Service period</th><th class="num">Quantity</th>
<th class="num">Unit price</th><th>Tax</th><th class="num">Amount ({{ d.currency }})</th></tr></thead><tbody>
{% for l in d.lines %}<tr><td>{{ l.number }}</td><td>{{ l.description }}</td><td>{{ l.period }}</td>
<td class="num">{{ l.quantity }}</td><td class="num">{{ l.unit_price }}</td><td>{{ l.tax_label }}</td>
<td class="num">{{ l.amount }}</td></tr>
{% for t in l.tiers %}<tr class="tier"><td></td><td>&nbsp;&nbsp;{{ t.label }}</td><td></td>
<td class="num tier-quantity">{{ t.quantity }}</td><td class="num tier-price">{{ t.unit_price }}</td><td></td>
<td class="num tier-amount">{{ t.amount }}</td></tr>
{% endfor %}{% endfor %}</tbody></table>
<h2>Tax</h2>
<table class="taxes"><thead><tr><th>Rate</th><th class="num">Taxable amount</th><th class="num">Tax</th></tr></thead><tbody>
{% for t in d.taxes %}<tr><td>{{ t.label }}</td><td class="num">{{ t.taxable }}</td><td class="num">{{ t.tax }}</td></tr>
{% endfor %}</tbody></table>
<table class="totals">
<tr><td>Subtotal (without tax)</td><td class="num subtotal">{{ d.subtotal }} {{ d.currency }}</td></tr>
<tr><td>Discounts</td><td class="num discount-total">{{ d.discount_total }} {{ d.currency }}</td></tr>
<tr><td>Taxable amount</td><td class="num taxable-amount">{{ d.taxable_amount }} {{ d.currency }}</td></tr>
<tr><td>Tax</td><td class="num tax-total">{{ d.tax_total }} {{ d.currency }}</td></tr>
<tr><th>Total</th><th class="num total">{{ d.total }} {{ d.currency }}</th></tr>
{% for c in d.credits %}<tr class="credit"><td>{{ c.description }}</td><td class="num">{{ c.amount }} {{ d.currency }}</td></tr>
{% endfor %}<tr><td>Credits applied</td><td class="num credits-applied">{{ d.credits_applied }} {{ d.currency }}</td></tr>
<tr><th>Amount due</th><th class="num amount-due">{{ d.amount_due }} {{ d.currency }}</th></tr>
</table>
{% if d.kind != 'credit_note' and d.payment_terms_days is not none %}
<p class="payment-terms">Payment terms: {{ d.payment_terms_days }} days, due {{ d.due_date }}.</p>{% endif %}
{% for n in d.notes %}<p class="note">{{ n }}</p>{% endfor %}
</body></html>
"""
)


def render_html(document: Document) -> str:
    return HTML_TEMPLATE.render(d=document)


def _safe(text: str, unicode_font: bool) -> str:
    if unicode_font:
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(document: Document, path: Path) -> None:
    """A one-column A4 PDF with the same content as the HTML (fpdf2, pure Python)."""
    from fpdf import FPDF, FontFace
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    # a fixed creation date (the issue date) keeps a re-render byte-identical
    pdf.set_creation_date(datetime.combine(document.issue_date, time(0, 0), tzinfo=UTC))
    pdf.set_title(f"{document.title} {document.number}")
    pdf.set_author(document.seller.name)
    pdf.set_auto_page_break(auto=True, margin=15)
    unicode_font = all(p.exists() for p in UNICODE_FONTS.values())
    family = "Helvetica"
    if unicode_font:
        for style, font_path in UNICODE_FONTS.items():
            pdf.add_font("DejaVu", style, str(font_path))
        family = "DejaVu"
    pdf.add_page()
    d = document

    def text(value: str, size: float = 9, style: str = "", height: float = 5) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(0, height, _safe(value, unicode_font), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fit(value: str, width: float) -> str:
        value = _safe(value, unicode_font)
        if pdf.get_string_width(value) <= width - 2:
            return value
        while value and pdf.get_string_width(value + "...") > width - 2:
            value = value[:-1]
        return value + "..."

    def row(cells: list[tuple[str, float, str]], style: str = "", size: float = 8) -> None:
        pdf.set_font(family, style, size)
        for value, width, align in cells:
            pdf.cell(width, 5, fit(value, width), border="B", align=align)
        pdf.ln(5)

    text(f"{d.title} {d.number}", 16, "B", 9)
    text(f"Issue date: {d.issue_date}" + (f"    Due date: {d.due_date}" if d.due_date else ""))
    text(f"Service period: {d.service_period}    Currency: {d.currency}")
    if d.original_invoice_number:
        text(f"Original invoice: {d.original_invoice_number}")
    if d.reason:
        text(f"Reason: {d.reason}")
    pdf.ln(3)
    top = pdf.get_y()
    pdf.set_font(family, "B", 10)
    pdf.cell(95, 5, "Seller")
    pdf.cell(95, 5, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    seller = [d.seller.name, *d.seller.address_lines, f"VAT / tax id: {d.seller.tax_id}"]
    buyer = [d.buyer.name, *d.buyer.address_lines] + (
        [f"VAT / tax id: {d.buyer.tax_id}"] if d.buyer.tax_id else []
    )
    pdf.set_font(family, "", 9)
    for index in range(max(len(seller), len(buyer))):
        pdf.cell(95, 5, _safe(seller[index] if index < len(seller) else "", unicode_font))
        pdf.cell(
            95,
            5,
            _safe(buyer[index] if index < len(buyer) else "", unicode_font),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_y(max(pdf.get_y(), top) + 4)
    # the lines table wraps long descriptions onto several lines (fpdf2 table)
    pdf.set_font(family, "", 8)
    with pdf.table(
        col_widths=(7, 61, 41, 22, 17, 18, 24),
        width=190,
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        line_height=4.5,
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        heading = table.row()
        for title in (
            "#",
            "Description",
            "Service period",
            "Quantity",
            "Price",
            "Tax",
            f"Amount {d.currency}",
        ):
            heading.cell(title)
        for line in d.lines:
            cells = table.row()
            for value in (
                str(line.number),
                line.description,
                line.period,
                line.quantity,
                line.unit_price,
                line.tax_percent,
                line.amount,
            ):
                cells.cell(_safe(value, unicode_font))
            for tier in line.tiers:
                cells = table.row()
                for value in ("", f"  {tier.label}", "", tier.quantity, tier.unit_price, "", tier.amount):
                    cells.cell(_safe(value, unicode_font))
    pdf.ln(3)
    row([("Tax rate", 80, "L"), ("Taxable amount", 55, "R"), ("Tax", 55, "R")], "B")
    for tax in d.taxes:
        row([(tax.label, 80, "L"), (tax.taxable, 55, "R"), (tax.tax, 55, "R")])
    pdf.ln(3)
    for label, value, style in (
        ("Subtotal (without tax)", d.subtotal, ""),
        ("Discounts", d.discount_total, ""),
        ("Taxable amount", d.taxable_amount, ""),
        ("Tax", d.tax_total, ""),
        ("Total", d.total, "B"),
        *((credit.description, credit.amount, "") for credit in d.credits),
        ("Credits applied", d.credits_applied, ""),
        ("Amount due", d.amount_due, "B"),
    ):
        pdf.set_font(family, style, 10)
        pdf.cell(135, 6, label, align="R")
        pdf.cell(55, 6, f"{value} {d.currency}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if d.kind != "credit_note" and d.payment_terms_days is not None:
        text(f"Payment terms: {d.payment_terms_days} days, due {d.due_date}.")
    for note in d.notes:
        text(note, 9, "B")
    pdf.output(str(path))


def render_all(
    out_dir: Path | None = None,
    warehouse: Path | None = None,
    number: str | None = None,
    *,
    force: bool = False,
) -> list[Path]:
    """Write HTML and PDF for every issued document not rendered yet (all of them with force=True).

    Issued documents never change, so a document whose two files exist is skipped: a daily run only
    renders the new ones. Use force after changing the template. Returns the files written.
    """
    out = reports_dir() / "invoices" if out_dir is None else out_dir
    out.mkdir(parents=True, exist_ok=True)
    documents = load_documents(warehouse, number)
    written: list[Path] = []
    skipped = 0
    for index, document in enumerate(documents, start=1):
        html_path = out / f"{document.filename}.html"
        pdf_path = out / f"{document.filename}.pdf"
        if not force and html_path.exists() and pdf_path.exists():
            skipped += 1
            continue
        html_path.write_text(render_html(document), encoding="utf-8")
        render_pdf(document, pdf_path)
        written += [html_path, pdf_path]
        if index % 100 == 0:
            print(f"invoices: {index}/{len(documents)} documents done")
    print(
        f"invoices: rendered {len(written) // 2} documents (HTML + PDF) to {out}"
        + (
            f"; {skipped} already rendered (issued documents never change; --force re-renders)"
            if skipped
            else ""
        )
    )
    return written
