"""Invoice and credit/debit note documents: HTML (jinja2) and PDF (fpdf2) for every issued document.

Everything printed comes from the append-only ledger billing.fct_issued_lines, where the seller's
and the buyer's details were frozen when the document was issued, so a re-render gives the same
document. Files: <out>/<document number>.html and .pdf (overwritten on re-render; idempotent).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from time import monotonic
from typing import Any

import duckdb
import jinja2

from usagebill.invoices.pdf import Canvas, Face, FontError, TrueTypeFont
from usagebill.money import minor_unit
from usagebill.paths import reports_dir, warehouse_path
from usagebill.progress import Progress, format_duration

UNICODE_FONTS = {
    "": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "B": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}
# fonts for the characters DejaVu Sans has no glyph for, in order: Droid Sans Fallback (Debian
# fonts-droid-fallback, Apache-2.0) covers Chinese, Japanese and Korean; regular style only
FALLBACK_FONTS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)
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


# rows fetched from DuckDB at a time: a document is built as soon as its rows have arrived, so the
# rows of 100,000 invoices (~24 KiB each as Python dicts) are never all in memory at once
FETCH_ROWS = 10_000


def load_documents(warehouse: Path | None = None, number: str | None = None) -> list[Document]:
    """Every issued document (or the one numbered `number`) from billing.fct_issued_lines."""
    return list(iter_documents(warehouse, number))


def iter_documents(warehouse: Path | None = None, number: str | None = None) -> Iterator[Document]:
    """The issued documents in order (type, sequence), read FETCH_ROWS ledger rows at a time."""
    path = warehouse_path() if warehouse is None else warehouse
    if not path.exists():
        raise FileNotFoundError(f"warehouse {path} not found: build it first (make demo, or dbt build)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        try:
            cursor = con.execute(
                "select * from billing.fct_issued_lines"
                + (" where document_number = ?" if number else "")
                # document_id too: a document's rows are consecutive whatever the sequences
                + " order by document_type, document_sequence, document_id, line_number",
                [number] if number else [],
            )
        except duckdb.CatalogException as error:
            raise RuntimeError(
                f"{path} has no billing.fct_issued_lines ({error}); run the dbt build of the billing models first"
            ) from None
        names = [d[0] for d in cursor.description]
        current: list[dict[str, Any]] = []
        while chunk := cursor.fetchmany(FETCH_ROWS):
            for values in chunk:
                row = dict(zip(names, values, strict=True))
                if current and row["document_id"] != current[0]["document_id"]:
                    yield _document(current)
                    current = []
                current.append(row)
        if current:
            yield _document(current)
    finally:
        con.close()


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


# Parsed fonts, per process: (path, style) -> (the TTFFont fpdf2 built, the font file's bytes).
_FONT_CACHE: dict[tuple[str, str], tuple[Any, bytes]] = {}


def _add_font(pdf: Any, family: str, style: str, path: Path) -> None:
    """pdf.add_font, with the parsed font kept for the next documents of this process.

    Profile (fpdf2 2.8, DejaVu Sans, bench/bench_documents.py): add_font parses the TTF (cmap,
    hmtx, glyph ids of 6,000 glyphs) for every document, about half of a document's time. The
    parsed metrics never change, so they are kept; each document gets a fresh, lazily read
    fontTools object from the cached bytes, because fpdf2's output subsets that object in place.
    The PDF is byte-identical to an uncached render (tests/invoicing/test_documents_render.py).
    """
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    key = (str(path), style)
    fontkey = f"{family.lower()}{style}"
    cached = _FONT_CACHE.get(key)
    if cached is None:
        pdf.add_font(family, style, str(path))
        prototype = pdf.fonts[fontkey]
        data = path.read_bytes()
        original = ttLib.TTFont(io.BytesIO(data), lazy=True)
        if prototype.color_font is not None or (
            "glyf" in original and ".notdef" not in original.getGlyphOrder()
        ):
            return  # a colour font, or fpdf2 drew a fallback .notdef into this object: no cache
        # fpdf2 keys the font by family name: the cache entry is only reused for the same family
        _FONT_CACHE[key] = (copy.copy(prototype), data)
        return
    prototype, data = cached
    font = copy.copy(prototype)
    font.i = len(pdf.fonts) + 1
    font.fontkey = fontkey
    font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
    font.cw = copy.copy(prototype.cw)  # a defaultdict: reading an unknown character adds it
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.subset = SubsetMap(font)
    pdf.fonts[fontkey] = font


# the writer's parsed fonts, per process and font files (None: the fonts are missing or unusable, fpdf2 is used)
_WRITER_FONTS: dict[str, Any] = {}
# control characters other than the newline print as a space (they have no glyph)
_CONTROL = {code: " " for code in [*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F]}


def _writer_fonts() -> dict[str, Face] | None:
    """The writer's faces (regular, bold: DejaVu Sans, then FALLBACK_FONTS), parsed once per process."""
    key = repr(sorted((style, str(path)) for style, path in UNICODE_FONTS.items()) + list(FALLBACK_FONTS))
    if key not in _WRITER_FONTS:
        try:
            fallbacks: list[TrueTypeFont] = []

            def load_fallbacks() -> list[TrueTypeFont]:
                if not fallbacks:  # parsed once, shared by both styles
                    for path in FALLBACK_FONTS:
                        try:
                            fallbacks.append(TrueTypeFont(path, path.stem))
                        except (OSError, FontError) as error:  # missing or unusable: the next one
                            print(f"invoice documents: fallback font {path} unusable ({error}); skipped")
                return fallbacks

            _WRITER_FONTS[key] = {
                style: Face(TrueTypeFont(path, path.stem), load_fallbacks)
                for style, path in UNICODE_FONTS.items()
            }
        except (OSError, FontError, ImportError) as error:
            print(f"invoice documents: PDF writer fonts unusable ({error}); using fpdf2")
            _WRITER_FONTS[key] = None
    return _WRITER_FONTS[key]


def pdf_bytes(document: Document) -> bytes | None:
    """The PDF of `document` from the fixed-layout writer (usagebill.invoices.pdf), or None when it
    cannot print it exactly: a character no font has a glyph for (DejaVu Sans, then FALLBACK_FONTS), or
    no usable TrueType font. Same content and order as the HTML; tables wrap long cells; rows that
    do not fit move to the next page, where the lines table's heading is repeated."""
    fonts = _writer_fonts()
    if fonts is None:
        return None
    d = document
    try:
        canvas = Canvas(fonts)

        def clean(value: str) -> str:
            return value.translate(_CONTROL)

        canvas.paragraph(clean(f"{d.title} {d.number}"), 16, "B", 9)
        canvas.paragraph(
            f"Issue date: {d.issue_date}" + (f"    Due date: {d.due_date}" if d.due_date else ""), 9, "", 5
        )
        canvas.paragraph(f"Service period: {d.service_period}    Currency: {clean(d.currency)}", 9, "", 5)
        if d.original_invoice_number:
            canvas.paragraph(clean(f"Original invoice: {d.original_invoice_number}"), 9, "", 5)
        if d.reason:
            canvas.paragraph(clean(f"Reason: {d.reason}"), 9, "", 5)
        canvas.y += 3
        canvas.row([("Seller", 95, "L"), ("Bill to", 95, "L")], style="B", size=10, line_height=5, rule=False)
        seller = [d.seller.name, *d.seller.address_lines, f"VAT / tax id: {d.seller.tax_id}"]
        buyer = [d.buyer.name, *d.buyer.address_lines] + (
            [f"VAT / tax id: {d.buyer.tax_id}"] if d.buyer.tax_id else []
        )
        for index in range(max(len(seller), len(buyer))):
            left = clean(seller[index]) if index < len(seller) else ""
            right = clean(buyer[index]) if index < len(buyer) else ""
            canvas.row([(left, 95, "L"), (right, 95, "L")], style="", size=9, line_height=5, rule=False)
        canvas.y += 4
        widths, aligns = LINE_COLUMNS
        titles, rows = _line_table(d)
        heading = [(clean(t), w, a) for t, w, a in zip(titles, widths, aligns, strict=True)]
        canvas.rule(canvas.LEFT, canvas.y, canvas.LEFT + sum(widths))
        canvas.row(heading, style="B", size=8, line_height=4.5)
        for values in rows:
            cells = [(clean(v), w, a) for v, w, a in zip(values, widths, aligns, strict=True)]
            canvas.row(cells, style="", size=8, line_height=4.5, on_new_page=heading)
        canvas.y += 3
        tax_heading = [("Tax rate", 80, "L"), ("Taxable amount", 55, "R"), ("Tax", 55, "R")]
        canvas.row(tax_heading, style="B", size=8, line_height=5)
        for tax in d.taxes:
            cells = [(clean(tax.label), 80, "L"), (tax.taxable, 55, "R"), (tax.tax, 55, "R")]
            canvas.row(cells, style="", size=8, line_height=5, on_new_page=tax_heading)
        canvas.y += 3
        for label, value, style in _totals(d):
            canvas.row(
                [(clean(label), 135, "R"), (clean(f"{value} {d.currency}"), 55, "R")],
                style=style,
                size=10,
                line_height=6,
                rule=False,
            )
        canvas.y += 3
        if d.kind != "credit_note" and d.payment_terms_days is not None:
            canvas.paragraph(f"Payment terms: {d.payment_terms_days} days, due {d.due_date}.", 9, "", 5)
        for note in d.notes:
            canvas.paragraph(clean(note), 9, "B", 5)
        # a fixed creation date (the issue date) keeps a re-render byte-identical
        created = datetime.combine(d.issue_date, time(0, 0), tzinfo=UTC)
        return canvas.output(clean(f"{d.title} {d.number}"), clean(d.seller.name), created)
    except KeyError:  # a character without a glyph in the font (width_of / glyph_of lookups)
        return None


# the lines table: column widths (mm, 190 in all) and alignments; "#" is 9 mm: a 4-digit line
# number at 8 pt (4 x 0.636 em = 7.2 mm) plus 2 x 1 mm padding
LINE_COLUMNS = ((9, 59, 41, 22, 17, 18, 24), ("L", "L", "L", "R", "R", "R", "R"))


def _line_table(d: Document) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The lines table: its headings, and one row per line followed by its tier split's rows."""
    titles = ("#", "Description", "Service period", "Quantity", "Price", "Tax", f"Amount {d.currency}")
    rows: list[tuple[str, ...]] = []
    for line in d.lines:
        rows.append(
            (
                str(line.number),
                line.description,
                line.period,
                line.quantity,
                line.unit_price,
                line.tax_percent,
                line.amount,
            )
        )
        rows.extend(("", f"  {t.label}", "", t.quantity, t.unit_price, "", t.amount) for t in line.tiers)
    return titles, rows


def _totals(d: Document) -> list[tuple[str, str, str]]:
    """The totals block, in order: (label, amount, font style)."""
    return [
        ("Subtotal (without tax)", d.subtotal, ""),
        ("Discounts", d.discount_total, ""),
        ("Taxable amount", d.taxable_amount, ""),
        ("Tax", d.tax_total, ""),
        ("Total", d.total, "B"),
        *((credit.description, credit.amount, "") for credit in d.credits),
        ("Credits applied", d.credits_applied, ""),
        ("Amount due", d.amount_due, "B"),
    ]


def render_pdf(document: Document, path: Path) -> None:
    """A one-column A4 PDF with the same content as the HTML: the fixed-layout writer
    (pdf_bytes), else fpdf2 (render_pdf_fpdf2)."""
    data = pdf_bytes(document)
    if data is None:
        render_pdf_fpdf2(document, path)
    else:
        path.write_bytes(data)


def render_pdf_fpdf2(document: Document, path: Path) -> None:
    """The same layout with fpdf2 (pure Python; about 10x slower than pdf_bytes): for documents
    with characters DejaVu Sans has no glyph for, and when the TrueType fonts are missing (then
    the core font Helvetica, Latin-1 only)."""
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
            _add_font(pdf, "DejaVu", style, font_path)
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
    titles, rows = _line_table(d)
    with pdf.table(
        col_widths=LINE_COLUMNS[0],
        width=190,
        text_align=tuple({"L": "LEFT", "R": "RIGHT"}[a] for a in LINE_COLUMNS[1]),
        borders_layout="HORIZONTAL_LINES",
        line_height=4.5,
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        for values in [titles, *rows]:
            cells = table.row()
            for value in values:
                cells.cell(_safe(value, unicode_font))
    pdf.ln(3)
    row([("Tax rate", 80, "L"), ("Taxable amount", 55, "R"), ("Tax", 55, "R")], "B")
    for tax in d.taxes:
        row([(tax.label, 80, "L"), (tax.taxable, 55, "R"), (tax.tax, 55, "R")])
    pdf.ln(3)
    for label, value, style in _totals(d):
        pdf.set_font(family, style, 10)
        pdf.cell(135, 6, label, align="R")
        pdf.cell(55, 6, f"{value} {d.currency}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if d.kind != "credit_note" and d.payment_terms_days is not None:
        text(f"Payment terms: {d.payment_terms_days} days, due {d.due_date}.")
    for note in d.notes:
        text(note, 9, "B")
    pdf.output(str(path))


MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def renderer_digest() -> str:
    """What else decides a document's bytes: this module (templates, layout), fpdf2 and jinja2
    versions and the font files. A change re-renders every document once."""
    import fpdf

    from usagebill.invoices import pdf

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(pdf.__file__).read_bytes())
    digest.update(f"fpdf2 {fpdf.__version__} jinja2 {jinja2.__version__}".encode())
    for style, font_path in [*sorted(UNICODE_FONTS.items()), *(("fallback", p) for p in FALLBACK_FONTS)]:
        size = font_path.stat().st_size if font_path.exists() else -1
        digest.update(f"{style}:{font_path}:{size}".encode())
    return digest.hexdigest()


def document_digest(document: Document, renderer: str) -> str:
    """sha256 of everything printed on the document (its fields) and of the renderer."""
    content = json.dumps(asdict(document), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{renderer}\n{content}".encode()).hexdigest()


def read_manifest(out: Path) -> dict[str, dict[str, str]]:
    """<out>/manifest.json: file name (without extension) -> {document_id, number, digest}."""
    path = out / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}  # unreadable (e.g. edited by hand): every document is rendered again
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return {}
    entries = data.get("documents")
    return entries if isinstance(entries, dict) else {}


def write_manifest(out: Path, entries: dict[str, dict[str, str]]) -> None:
    """Written to a temporary file then renamed: a crash never leaves half a manifest."""
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(
        json.dumps({"version": MANIFEST_VERSION, "documents": entries}, sort_keys=True, indent=0),
        encoding="utf-8",
    )
    os.replace(tmp, out / MANIFEST)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def render_one(document: Document, out: Path) -> list[Path]:
    """HTML + PDF of one document, each written to a temporary file and renamed into place."""
    html_path = out / f"{document.filename}.html"
    pdf_path = out / f"{document.filename}.pdf"
    _write_atomically(html_path, lambda tmp: tmp.write_text(render_html(document), encoding="utf-8"))
    _write_atomically(pdf_path, lambda tmp: render_pdf(document, tmp))
    return [html_path, pdf_path]


def _render_batch(documents: list[Document], out: Path) -> list[str]:
    """A worker's share (runs in a pool process): the names of the documents written."""
    for document in documents:
        render_one(document, out)
    return [document.filename for document in documents]


def default_workers() -> int:
    """USAGEBILL_DOCUMENT_WORKERS, else the cores this process may use."""
    configured = os.environ.get("USAGEBILL_DOCUMENT_WORKERS")
    if configured:
        try:
            workers = int(configured)
        except ValueError:
            raise ValueError(
                f"USAGEBILL_DOCUMENT_WORKERS={configured!r}: use a whole number of processes, e.g. 2"
            ) from None
        if not 1 <= workers <= 256:
            raise ValueError(f"USAGEBILL_DOCUMENT_WORKERS={workers}: use 1 to 256 processes")
        return workers
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# below this many documents per worker a run is rendered in this process (no pool to start)
MIN_DOCUMENTS_PER_WORKER = 2


def _batches(documents: Sequence[Document], size: int) -> Iterator[list[Document]]:
    for start in range(0, len(documents), size):
        yield list(documents[start : start + size])


def render_documents(
    documents: Sequence[Document],
    out: Path,
    *,
    workers: int | None = None,
    log: Callable[[str], None] = print,
    on_done: Callable[[list[str]], None] | None = None,
    progress_seconds: float = 5.0,
) -> int:
    """Render `documents` into `out`: serially in this process when `workers` is 1 or the run is
    small, else in a pool of `workers` processes (default: the cores), in batches. on_done gets
    the names of each finished batch (to record them in the manifest). Progress (documents
    written, rate, time left) goes to `log` every `progress_seconds`. Returns how many."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers={workers}: use at least 1 process")
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(
        "invoice documents", total=len(documents), emit=log, unit="documents", every_seconds=progress_seconds
    )
    # a pool costs a second or two to start (each process imports fpdf2 and parses the fonts once)
    if workers == 1 or len(documents) < MIN_DOCUMENTS_PER_WORKER * workers:
        for batch in _batches(documents, 20):
            names = _render_batch(batch, out)
            progress.advance(len(names))
            if on_done:
                on_done(names)
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        # batches small enough to spread the work and report progress, large enough to amortize
        # sending them to the workers; at most 2 batches queued per worker (bounded memory)
        size = max(1, min(100, len(documents) // (workers * 8)))
        pending = _batches(documents, size)
        # spawn, not fork: the caller (Dagster, DuckDB) may hold threads and locks
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running = {pool.submit(_render_batch, batch, out) for batch in _take(pending, 2 * workers)}
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    names = future.result()
                    progress.advance(len(names))
                    if on_done:
                        on_done(names)
                running |= {pool.submit(_render_batch, batch, out) for batch in _take(pending, len(finished))}
    progress.finish()
    return len(documents)


def _take(batches: Iterator[list[Document]], count: int) -> list[list[Document]]:
    taken = []
    for batch in batches:
        taken.append(batch)
        if len(taken) == count:
            break
    return taken


def render_all(
    out_dir: Path | None = None,
    warehouse: Path | None = None,
    number: str | None = None,
    *,
    force: bool = False,
    workers: int | None = None,
    log: Callable[[str], None] = print,
    progress_seconds: float = 5.0,
) -> list[Path]:
    """Write HTML and PDF for every issued document that is new or changed (all of them with force).

    <out>/manifest.json records, per document, the digest of its content and of the renderer
    (document_digest). A document whose digest matches and whose two files exist is skipped; a
    new one, a changed one (e.g. the template or the buyer details printed changed) or one whose
    file is missing is rendered, in parallel (render_documents). The manifest is updated as
    batches finish, so a run that stops part-way resumes where it stopped. Logs how long reading
    and comparing took, then the rendering's progress (render_documents). Returns the files
    written.
    """
    out = reports_dir() / "invoices" if out_dir is None else out_dir
    out.mkdir(parents=True, exist_ok=True)
    started = monotonic()
    log("invoice documents: reading the issued documents from the warehouse")
    documents = load_documents(warehouse, number)
    renderer = renderer_digest()
    manifest = read_manifest(out)
    digests = {document.filename: document_digest(document, renderer) for document in documents}
    todo = [
        document
        for document in documents
        if force
        or manifest.get(document.filename, {}).get("digest") != digests[document.filename]
        or not (out / f"{document.filename}.html").exists()
        or not (out / f"{document.filename}.pdf").exists()
    ]
    log(
        f"invoice documents: {len(documents):,} issued documents read and compared with {MANIFEST} "
        f"in {format_duration(monotonic() - started)}; {len(todo):,} to render"
    )
    by_name = {document.filename: document for document in todo}
    unsaved = [0]

    def done(names: list[str]) -> None:
        for name in names:
            document = by_name[name]
            manifest[name] = {
                "document_id": document.document_id,
                "number": document.number,
                "digest": digests[name],
            }
        unsaved[0] += len(names)
        if unsaved[0] >= 1000:  # a 100,000-entry manifest is ~15 MB: not after every batch
            write_manifest(out, manifest)
            unsaved[0] = 0

    skipped = len(documents) - len(todo)
    if skipped:
        log(f"invoice documents: {skipped} unchanged since they were rendered (manifest.json): skipped")
    try:
        if todo:
            render_documents(
                todo, out, workers=workers, log=log, on_done=done, progress_seconds=progress_seconds
            )
    finally:
        write_manifest(out, manifest)
    log(
        f"invoices: rendered {len(todo)} documents (HTML + PDF) to {out}"
        + (f"; {skipped} unchanged, skipped (--force re-renders them)" if skipped else "")
    )
    return [
        path
        for document in todo
        for path in (out / f"{document.filename}.html", out / f"{document.filename}.pdf")
    ]
