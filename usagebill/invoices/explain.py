"""`usagebill explain INVOICE_NUMBER [--line N]`: how each line of an issued invoice (or credit/debit
note) was computed, and the usage behind it down to the journal events.

For every line: the plan and price version, the price model, unit size, the tiers with the quantity
and price of each, the units included in the plan, the discounts of the invoice, the tax rate and
tax; for usage lines the hourly rollup rows (fct_usage_hourly grain) and the journal events with
their source and arrival time (billing.fct_invoice_line_lineage). Then the invoice's figures in the
order of invoice arithmetic (docs/invoices.md): subtotal, discounts, taxable amount per rate, tax,
total, credits applied, amount due. Reads the warehouse only (read-only connection).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from usagebill import paths
from usagebill.engine import table_exists

# a line can be backed by millions of events: the text output lists the first ones (the mart has all)
DEFAULT_EVENT_LIMIT = 20
MAX_NUMBER_LENGTH = 64


class ExplainError(Exception):
    """The document or line cannot be explained; the message says why and what to do."""


@dataclass
class LineExplanation:
    line: dict[str, Any]
    billing_line: dict[str, Any] | None
    price: dict[str, Any] | None
    tiers: list[dict[str, Any]]
    rollups: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    event_count: int = 0
    event_quantity: Decimal = Decimal(0)


@dataclass
class Explanation:
    document: dict[str, Any]
    figures: dict[str, Any]
    taxes: list[dict[str, Any]]
    lines: list[LineExplanation]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tiers(breakdown: str | None) -> list[dict[str, Any]]:
    if not breakdown:
        return []
    try:
        parsed = json.loads(breakdown)
    except ValueError:
        return []
    return [t for t in parsed if isinstance(t, dict)] if isinstance(parsed, list) else []


def explain(
    number: str,
    warehouse: Path | None = None,
    line_number: int | None = None,
    event_limit: int = DEFAULT_EVENT_LIMIT,
) -> Explanation:
    """Explain the issued document numbered (or with id) `number`, or only its line `line_number`."""
    if not number or len(number) > MAX_NUMBER_LENGTH:
        raise ExplainError(f"invoice number must be 1-{MAX_NUMBER_LENGTH} characters, e.g. UB-2026-000001")
    path = paths.warehouse_path() if warehouse is None else Path(warehouse)
    if not path.exists():
        raise ExplainError(f"warehouse {path} not found; build it first (make demo, or the dbt build)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not table_exists(con, "billing", "fct_issued_lines"):
            raise ExplainError(
                f"{path} has no billing.fct_issued_lines; run the dbt build of the billing models"
            )
        lines = _rows(
            con,
            "select * from billing.fct_issued_lines where document_number = ? or document_id = ? order by line_number",
            [number, number],
        )
        if not lines:
            raise ExplainError(
                f"no issued invoice or note numbered {number!r}; list them with "
                "`select invoice_number from billing.fct_invoices`"
            )
        document = lines[0]
        if line_number is not None:
            wanted = [row for row in lines if row["line_number"] == line_number]
            if not wanted:
                raise ExplainError(
                    f"{document['document_number']} has lines 1-{max(r['line_number'] for r in lines)}; "
                    f"there is no line {line_number}"
                )
        else:
            wanted = lines
        ids = [row["billing_line_id"] for row in wanted]
        billing = {
            row["billing_line_id"]: row
            for row in _rows(
                con,
                "select * from billing.fct_billing_lines where billing_line_id in (select unnest(?))",
                [ids],
            )
        }
        price_ids = [b["price_id"] for b in billing.values() if b.get("price_id")]
        prices: dict[str, dict[str, Any]] = {}
        if price_ids and table_exists(con, "staging", "stg_catalog__plan_charges"):
            prices = {
                row["price_id"]: row
                for row in _rows(
                    con,
                    "select * from staging.stg_catalog__plan_charges where price_id in (select unnest(?))",
                    [price_ids],
                )
            }
        lineage: dict[int, list[dict[str, Any]]] = defaultdict(list)
        totals: dict[int, tuple[int, Decimal]] = {}
        rollups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if table_exists(con, "billing", "fct_invoice_line_lineage"):
            key = [document["document_id"], [row["line_number"] for row in wanted]]
            for row in _rows(
                con,
                """select line_number, count(*) as events, sum(event_quantity) as quantity
                   from billing.fct_invoice_line_lineage
                   where document_id = ? and line_number in (select unnest(?)) group by line_number""",
                key,
            ):
                totals[row["line_number"]] = (row["events"], row["quantity"])
            for row in _rows(
                con,
                """select line_number, rollup_hour_start, rollup_dimensions_key, count(*) as events,
                          sum(event_quantity) as quantity
                   from billing.fct_invoice_line_lineage
                   where document_id = ? and line_number in (select unnest(?))
                   group by all order by line_number, rollup_hour_start, rollup_dimensions_key""",
                key,
            ):
                rollups[row["line_number"]].append(row)
            for row in _rows(
                con,
                """select * from (
                       select *, row_number() over (partition by line_number order by event_ts, event_id) as n
                       from billing.fct_invoice_line_lineage
                       where document_id = ? and line_number in (select unnest(?))
                   ) where n <= ? order by line_number, n""",
                [*key, event_limit],
            ):
                lineage[row["line_number"]].append(row)
        figures: dict[str, Any] = {}
        if document["document_type"] == "invoice" and table_exists(con, "billing", "fct_invoices"):
            found = _rows(
                con, "select * from billing.fct_invoices where invoice_id = ?", [document["document_id"]]
            )
            figures = found[0] if found else {}
        elif table_exists(con, "billing", "fct_credit_notes"):
            found = _rows(
                con,
                "select * from billing.fct_credit_notes where credit_note_id = ?",
                [document["document_id"]],
            )
            figures = found[0] if found else {}
        taxes = (
            _rows(
                con,
                "select * from billing.fct_invoice_taxes where document_id = ? order by tax_rate_id",
                [document["document_id"]],
            )
            if table_exists(con, "billing", "fct_invoice_taxes")
            else []
        )
    finally:
        con.close()
    explained = []
    for row in wanted:
        bill = billing.get(row["billing_line_id"])
        price = prices.get(bill["price_id"]) if bill and bill.get("price_id") else None
        count, quantity = totals.get(row["line_number"], (0, Decimal(0)))
        explained.append(
            LineExplanation(
                line=row,
                billing_line=bill,
                price=price,
                tiers=_tiers((bill or {}).get("tier_breakdown_json") or row.get("tier_breakdown_json")),
                rollups=rollups.get(row["line_number"], []),
                events=lineage.get(row["line_number"], []),
                event_count=int(count),
                event_quantity=Decimal(quantity or 0),
            )
        )
    return Explanation(document, figures, taxes, explained)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return format(
            normalized.quantize(Decimal(1)) if normalized == normalized.to_integral_value() else normalized,
            "f",
        )
    return str(value)


def format_explanation(explanation: Explanation) -> str:
    doc = explanation.document
    currency = doc["currency"]
    out = [
        f"{doc['document_type'].replace('_', ' ')} {doc['document_number']}  customer {doc['customer_id']}"
        f"  subscription {doc['subscription_id']}  issued {doc['issue_date']}  {currency}",
    ]
    if doc["document_type"] != "invoice":
        out.append(f"  corrects invoice {doc['source_invoice_number']}: {doc['reason']}")
    for item in explanation.lines:
        line, bill, price = item.line, item.billing_line, item.price
        out.append("")
        out.append(f"line {line['line_number']}: {line['description']}  [{line['line_type']}]")
        out.append(f"  service {line['period_start']} to {line['period_end']} (end exclusive)")
        if bill:
            out.append(
                f"  plan {bill['plan_id']} version {_plain(bill['plan_version'])}, charge {bill['charge_id']}, "
                f"price {_plain(bill['price_id'])} ({bill['price_source']}), model {bill['price_model']}"
            )
            if bill.get("meter_id"):
                out.append(f"  meter {bill['meter_id']}  dimensions {bill['dimensions_json']}")
        if price:
            out.append(
                f"  unit size {_plain(price.get('unit_size'))}, unit price {_plain(price.get('unit_price'))}, "
                f"included units {_plain(price.get('included_units'))}"
            )
        out.append(f"  quantity {_plain(line['quantity'])}, unit price {_plain(line['unit_price'])}")
        if line.get("included_quantity"):
            out.append(f"  included in the plan: {_plain(line['included_quantity'])} units at 0")
        for tier in item.tiers:
            if "tier" in tier:
                out.append(
                    f"  tier {tier['tier']}: {_plain(Decimal(str(tier.get('quantity', 0))))} units x "
                    f"{_plain(Decimal(str(tier.get('unit_price', 0))))} per {_plain(Decimal(str(tier.get('unit_size', 1))))}"
                    f" + flat {_plain(Decimal(str(tier.get('flat_fee', 0))))} = {_plain(Decimal(str(tier.get('amount', 0))))}"
                )
            else:
                out.append(f"  breakdown: {json.dumps(tier, sort_keys=True)}")
        if bill:
            out.append(
                f"  rated amount {_plain(bill['amount'])} -> rounded once (half-up) {_plain(line['amount'])} {currency}"
            )
        else:
            out.append(f"  amount {_plain(line['amount'])} {currency}")
        if line["line_type"] == "credit_applied":
            out.append("  prepaid credit: paid after tax, outside the taxable base (no tax)")
        else:
            out.append(
                f"  tax {line['tax_rate_id']} ({_plain(line['tax_rate'])}"
                f"{' inclusive' if line['is_tax_inclusive'] else ''}): {_plain(line['tax_amount'])}"
                f"  net {_plain(line['net_amount'])}  gross {_plain(line['gross_amount'])}"
            )
        if item.event_count:
            out.append(
                f"  usage: {item.event_count} journal events, quantity {_plain(item.event_quantity)}, "
                f"in {len(item.rollups)} hourly rollup rows"
            )
            for rollup in item.rollups[:DEFAULT_EVENT_LIMIT]:
                out.append(
                    f"    rollup hour {rollup['rollup_hour_start']}  {rollup['events']} events"
                    f"  quantity {_plain(rollup['quantity'])}"
                )
            for event in item.events:
                late = "  LATE (after issue)" if event["arrived_after_issue"] else ""
                out.append(
                    f"    event {event['event_id']}  at {event['event_ts']}  quantity {_plain(event['event_quantity'])}"
                    f"  source {event['event_source']}  arrived {event['arrived_at']}{late}"
                )
            if item.event_count > len(item.events):
                out.append(
                    f"    ... {item.event_count - len(item.events)} more events "
                    f"(billing.fct_invoice_line_lineage has all of them; --events N shows more)"
                )
    figures = explanation.figures
    if figures:
        out.append("")
        out.append("figures (fees, then discounts, then tax per rate, then credits):")
        for name in ("subtotal", "discount_total", "taxable_amount"):
            if name in figures:
                out.append(f"  {name:<16} {_plain(figures[name])} {currency}")
        for tax in explanation.taxes:
            out.append(
                f"  tax {tax['tax_rate_id']:<14} on {_plain(tax['taxable_amount'])}: {_plain(tax['tax_amount'])} {currency}"
            )
        for name in ("tax_amount", "total", "credits_applied", "amount_due"):
            if name in figures:
                out.append(f"  {name:<16} {_plain(figures[name])} {currency}")
    return "\n".join(out)


def _json_default(value: Any) -> str:
    return _plain(value) if isinstance(value, Decimal) else str(value)


def explanation_to_json(explanation: Explanation) -> str:
    return json.dumps(
        {
            "document": explanation.document,
            "figures": explanation.figures,
            "taxes": explanation.taxes,
            "lines": [
                {
                    "line": item.line,
                    "billing_line": item.billing_line,
                    "price": item.price,
                    "tiers": item.tiers,
                    "rollups": item.rollups,
                    "events": item.events,
                    "event_count": item.event_count,
                    "event_quantity": item.event_quantity,
                }
                for item in explanation.lines
            ],
        },
        default=_json_default,
        indent=2,
        sort_keys=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="usagebill explain", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("number", help="invoice or note number (UB-2026-000001) or id")
    parser.add_argument("--line", type=int, default=None, help="only this line number")
    parser.add_argument(
        "--events",
        type=int,
        default=DEFAULT_EVENT_LIMIT,
        help=f"events listed per line (default {DEFAULT_EVENT_LIMIT})",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--warehouse", type=Path, default=None, help="default: USAGEBILL_WAREHOUSE")
    args = parser.parse_args(argv)
    if not 0 <= args.events <= 100_000:
        print("usagebill explain: --events must be between 0 and 100000", file=sys.stderr)
        return 2
    try:
        explanation = explain(args.number, args.warehouse, args.line, args.events)
    except ExplainError as error:
        print(f"usagebill explain: {error}", file=sys.stderr)
        return 1
    print(explanation_to_json(explanation) if args.format == "json" else format_explanation(explanation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
