"""Read what to export from the warehouse marts and check it against the money rules before any call.

Inputs: billing.fct_invoices, billing.fct_invoice_lines, billing.fct_credit_notes (optional),
staging.stg_catalog__customers (optional: name/email/country for the Stripe customer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from usagebill.money import minor_unit, round_money, to_minor_units

# Statuses of billing.fct_invoices that are final and may go to Stripe (override: STRIPE_EXPORT_STATUSES).
DEFAULT_EXPORT_STATUSES = ("issued",)


class SourceError(ValueError):
    """An invoice breaks a money rule; it is reported as failed (naming invoice and field), never sent."""


DEFAULT_TENANT = "default"


def customer_key(customer_id: str, tenant_id: str = DEFAULT_TENANT) -> str:
    """The exporter's identity of a customer, (tenant_id, customer_id) as one string: the customer id
    for the default tenant (the key used before tenants existed), else ``tenant/customer_id`` (a
    catalog id never contains '/'). Used for the ledger rows and the idempotency key of the customer."""
    return customer_id if tenant_id == DEFAULT_TENANT else f"{tenant_id}/{customer_id}"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str | None = None
    email: str | None = None
    country: str | None = None
    tenant_id: str = DEFAULT_TENANT


@dataclass(frozen=True)
class Item:
    line_key: str  # line:<line_number> | tax:<tax_rate_id> | note:<credit_note_id>
    description: str
    amount_minor: int
    period_start: date | None = None
    period_end: date | None = None  # exclusive (half-open)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportInvoice:
    entity: str  # invoice | debit_note
    usagebill_id: str
    number: str
    customer_id: str
    currency: str  # ISO upper case
    issue_date: date | None
    due_date: date | None
    total_minor: int
    items: tuple[Item, ...]
    original_invoice_id: str | None = None
    tenant_id: str = DEFAULT_TENANT


@dataclass(frozen=True)
class ExportCreditNote:
    credit_note_id: str
    number: str
    original_invoice_id: str
    customer_id: str
    currency: str
    total_minor: int  # |amount| (tax included), in minor units
    reason: str | None
    tenant_id: str = DEFAULT_TENANT


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return rows[0][0] > 0


def export_statuses() -> tuple[str, ...]:
    raw = os.environ.get("STRIPE_EXPORT_STATUSES")
    return tuple(s.strip() for s in raw.split(",") if s.strip()) if raw else DEFAULT_EXPORT_STATUSES


def _minor(amount: Decimal | None, currency: str, where: str) -> int:
    if amount is None:
        return 0
    rounded = round_money(Decimal(amount), currency)
    if rounded != Decimal(amount):
        raise SourceError(
            f"{where} = {amount} {currency} is not rounded to the minor unit "
            f"({minor_unit(currency)} decimals): fix the billing mart, the exporter never rounds"
        )
    return to_minor_units(rounded, currency)


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _tenant_column(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """`tenant_id`, or the default tenant for a warehouse built before tenants existed."""
    rows = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
        "and column_name = 'tenant_id'",
        [schema, table],
    ).fetchall()
    return "tenant_id" if rows[0][0] else f"'{DEFAULT_TENANT}'"


def load_customers(con: duckdb.DuckDBPyConnection) -> dict[str, Customer]:
    """Catalog customers by customer_key(customer_id, tenant_id)."""
    if not _table_exists(con, "staging", "stg_catalog__customers"):
        return {}
    tenant = _tenant_column(con, "staging", "stg_catalog__customers")
    rows = con.execute(
        f"select customer_id, name, email, country, {tenant} from staging.stg_catalog__customers"
    ).fetchall()
    return {customer_key(r[0], r[4]): Customer(*r) for r in rows}


def load_invoices(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[ExportInvoice], list[tuple[str, str]], dict[str, int]]:
    """Issued invoices with their items. Returns (invoices, [(invoice_id, error)], {other status: count})."""
    if not _table_exists(con, "billing", "fct_invoices"):
        raise SourceError(
            "billing.fct_invoices does not exist in the warehouse: build the billing marts first "
            "(dbt build --select marts.billing)"
        )
    statuses = export_statuses()
    skipped = dict(
        con.execute(
            "select coalesce(status, 'null'), count(*) from billing.fct_invoices "
            f"where status is null or status not in ({','.join('?' * len(statuses))}) group by 1",
            list(statuses),
        ).fetchall()
    )
    tenant = _tenant_column(con, "billing", "fct_invoices")
    heads = con.execute(
        f"""
        select invoice_id, invoice_number, customer_id, upper(currency), issue_date, due_date, total, total_minor,
               {tenant} as tenant_id
        from billing.fct_invoices where status in ({",".join("?" * len(statuses))})
        order by issue_date, invoice_id
        """,
        list(statuses),
    ).fetchall()
    line_cols = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'billing' "
            "and table_name = 'fct_invoice_lines'"
        ).fetchall()
    }
    tax_rate = "tax_rate_id" if "tax_rate_id" in line_cols else "cast(null as varchar)"
    tax_amount = "tax_amount" if "tax_amount" in line_cols else "cast(0 as decimal(38, 12))"
    # amount includes the tax when the rate is inclusive: the Stripe item is the net amount, tax is its own item
    net_amount = "net_amount" if "net_amount" in line_cols else "amount"
    lines = con.execute(
        f"""
        select invoice_id, invoice_line_id, line_number, charge_id, line_type, description, quantity,
               unit_price, amount, amount_minor, {net_amount} as net_amount, {tax_rate} as tax_rate_id,
               {tax_amount} as tax_amount,
               period_start, period_end
        from billing.fct_invoice_lines
        order by invoice_id, line_number
        """
    ).fetchall()
    by_invoice: dict[str, list[tuple]] = {}
    for row in lines:
        by_invoice.setdefault(row[0], []).append(row)
    invoices, errors = [], []
    for inv_id, number, customer_id, currency, issue_date, due_date, total, total_minor, tenant_id in heads:
        try:
            invoices.append(
                _build_invoice(
                    inv_id,
                    number,
                    customer_id,
                    currency,
                    issue_date,
                    due_date,
                    total,
                    total_minor,
                    by_invoice.get(inv_id, []),
                    tenant_id,
                )
            )
        except (SourceError, ValueError) as e:
            errors.append((inv_id, str(e)))
    return invoices, errors, skipped


def _build_invoice(
    inv_id: str,
    number: str,
    customer_id: str,
    currency: str,
    issue_date: object,
    due_date: object,
    total: Decimal,
    total_minor: int,
    lines: list[tuple],
    tenant_id: str = DEFAULT_TENANT,
) -> ExportInvoice:
    where = f"invoice {inv_id} ({number})"
    if _minor(total, currency, f"{where}: total") != total_minor:
        raise SourceError(f"{where}: total {total} {currency} != total_minor {total_minor}")
    items: list[Item] = []
    tax_by_rate: dict[str, Decimal] = {}
    for (
        _,
        line_id,
        line_number,
        charge_id,
        line_type,
        description,
        quantity,
        unit_price,
        amount,
        amount_minor,
        net_amount,
        tax_rate_id,
        tax_amount,
        period_start,
        period_end,
    ) in lines:
        if _minor(amount, currency, f"{where} line {line_number}: amount") != amount_minor:
            raise SourceError(f"{where} line {line_number}: amount {amount} != amount_minor {amount_minor}")
        label = description or charge_id or line_type or f"line {line_number}"
        if quantity is not None and unit_price is not None:
            label = f"{label} ({_plain(quantity)} x {_plain(unit_price)} {currency})"
        items.append(
            Item(
                line_key=f"line:{line_number}",
                description=label[:500],
                amount_minor=_minor(net_amount, currency, f"{where} line {line_number}: net_amount"),
                period_start=_as_date(period_start),
                period_end=_as_date(period_end),
                metadata={
                    "usagebill_invoice_id": inv_id,
                    "usagebill_invoice_line_id": str(line_id),
                    "usagebill_line_key": f"line:{line_number}",
                    "usagebill_charge_id": str(charge_id or ""),
                    "usagebill_quantity": _plain(quantity),
                    "usagebill_unit_price": _plain(unit_price),
                },
            )
        )
        if tax_amount:
            key = tax_rate_id or "tax"
            tax_by_rate[key] = tax_by_rate.get(key, Decimal(0)) + Decimal(tax_amount)
    for rate_id, tax in sorted(tax_by_rate.items()):
        items.append(
            Item(
                line_key=f"tax:{rate_id}",
                description=f"Tax ({rate_id})",
                amount_minor=_minor(tax, currency, f"{where}: tax for rate {rate_id}"),
                metadata={
                    "usagebill_invoice_id": inv_id,
                    "usagebill_line_key": f"tax:{rate_id}",
                    "usagebill_tax_rate_id": rate_id,
                },
            )
        )
    if len(items) > 250:
        raise SourceError(
            f"{where}: {len(items)} items exceed Stripe's 250 invoice items per invoice; "
            "split the invoice or aggregate its lines"
        )
    if not items:
        raise SourceError(f"{where}: has no lines in billing.fct_invoice_lines")
    item_sum = sum(i.amount_minor for i in items)
    if item_sum != total_minor:
        raise SourceError(
            f"{where}: lines + tax = {item_sum} minor units but total_minor = {total_minor}; "
            "the invoice total must be the sum of its rounded lines"
        )
    return ExportInvoice(
        "invoice",
        inv_id,
        number,
        customer_id,
        currency,
        _as_date(issue_date),
        _as_date(due_date),
        int(total_minor),
        tuple(items),
        tenant_id=tenant_id,
    )


def _plain(value: object) -> str:
    if value is None:
        return ""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(d.normalize(), "f")


def load_credit_notes(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[ExportCreditNote], list[ExportInvoice], list[tuple[str, str]]]:
    """Credit notes (to Stripe credit notes) and debit notes (to new Stripe invoices)."""
    if not _table_exists(con, "billing", "fct_credit_notes"):
        return [], [], []
    tenant = _tenant_column(con, "billing", "fct_credit_notes")
    rows = con.execute(
        f"""
        select credit_note_id, credit_note_number, kind, original_invoice_id, customer_id, upper(currency),
               period_start, period_end, reason, amount, amount_minor, tax_amount, issue_date,
               {tenant} as tenant_id
        from billing.fct_credit_notes order by issue_date, credit_note_id
        """
    ).fetchall()
    credits, debits, errors = [], [], []
    for (
        note_id,
        number,
        kind,
        original,
        customer_id,
        currency,
        p_start,
        p_end,
        reason,
        amount,
        amount_minor,
        tax_amount,
        issue_date,
        tenant_id,
    ) in rows:
        where = f"credit note {note_id} ({number})"
        try:
            if _minor(amount, currency, f"{where}: amount") != amount_minor:
                raise SourceError(f"{where}: amount {amount} != amount_minor {amount_minor}")
            # fct_credit_notes.amount is signed (credit < 0, debit > 0) and includes the tax
            total = abs(int(amount_minor))
            tax = abs(_minor(tax_amount, currency, f"{where}: tax_amount"))
            net = total - tax
            if kind == "credit":
                credits.append(
                    ExportCreditNote(
                        note_id, number, original, customer_id, currency, total, reason, tenant_id
                    )
                )
            elif kind == "debit":
                items = [
                    Item(
                        f"note:{note_id}",
                        f"Debit note {number} for invoice {original}: {reason or ''}"[:500],
                        net,
                        _as_date(p_start),
                        _as_date(p_end),
                        {"usagebill_debit_note_id": note_id, "usagebill_line_key": f"note:{note_id}"},
                    )
                ]
                if tax:
                    items.append(
                        Item(
                            "tax:note",
                            f"Tax on debit note {number}",
                            tax,
                            metadata={"usagebill_debit_note_id": note_id, "usagebill_line_key": "tax:note"},
                        )
                    )
                debits.append(
                    ExportInvoice(
                        "debit_note",
                        note_id,
                        number,
                        customer_id,
                        currency,
                        _as_date(issue_date),
                        None,
                        total,
                        tuple(items),
                        original,
                        tenant_id,
                    )
                )
            else:
                raise SourceError(f"{where}: kind must be credit or debit, got {kind!r}")
        except (SourceError, ValueError) as e:
            errors.append((note_id, str(e)))
    return credits, debits, errors
