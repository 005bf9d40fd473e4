"""Bulk customers and subscriptions validated column by column (docs/pricing.md, "Bulk import").

A bulk file (usagebill/catalog/bulk.py) holds up to millions of rows; validating each row through
the YAML path's Node readers costs ~40 µs per row. Here each rule runs once per column with
pyarrow compute (ids against their pattern), or once per DISTINCT value of a column through the
very reader the YAML path uses (currencies, plans, dates, tenants, anchor days...: a handful of
distinct values for 100,000 rows), on a scratch list of problems. A row all of whose cells pass
is built directly; every other row - a cell a rule refused, or a row the checks across rows
refuse (duplicate id, unknown customer, currency or period differing from the plan) - goes
through the per-row functions of parse.py (customer_row, subscription_row), which record exactly
the YAML path's messages. Rows are taken in file order, so the checks that depend on earlier
rows (duplicates) see the same state as the per-row path; tests/rating/test_catalog_bulk.py holds
the parity of results and messages.

The fast path is conservative by construction: it only accepts what the per-row rule accepts and
produces the same normalized row; anything it is unsure of (an unexpected column type, a value
outside the simple forms) is left to the per-row path, which decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usagebill.catalog.bulk import BulkTable
from usagebill.catalog.fields import ID_RE, Issues, Node
from usagebill.catalog.parse import (
    PERIODS,
    Customers,
    NormalizedCatalog,
    _s,
    _tenant_of,
    customer_row,
    subscription_row,
)
from usagebill.money import MINOR_UNITS
from usagebill.tenants import DEFAULT_TENANT

# ID_RE as an RE2 pattern anchored on both ends (Python's fullmatch); RE2's $ is the end of text
ID_PATTERN = f"^(?:{ID_RE.pattern})$"
TEXT_FIELDS = {
    "customers": ("name", "email", "country", "tax_id")
    + tuple(f"address_{p}" for p in ("line1", "line2", "city", "postal_code", "state", "country")),
    "subscriptions": ("customer_id",),
}
Reader = Callable[[Node], Any]


def _is_text(array: pa.Array | None) -> bool:
    return array is not None and (
        pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_null(array.type)
    )


def _valid_values(table: BulkTable, column: str, read: Reader) -> tuple[pa.Array, dict[Any, Any]]:
    """(row mask, raw value -> value) for `column`: each distinct raw value goes through the row's
    conversion (bulk.py) and `read`, which applies the per-row rule to a scratch Node holding that
    one field; a value with a problem is left out of the mapping and its rows out of the mask."""
    n = len(table)
    array = table.arrow(column)
    if column not in table.columns:
        distinct: list[Any] = [None]
    elif array is None or pa.types.is_nested(array.type):
        return pa.array([False] * n), {}
    else:
        distinct = pc.unique(array).to_pylist()
    good: dict[Any, Any] = {}
    for raw in distinct:
        scratch = Issues()
        value = None if raw is None else table.convert(column, raw, Node("", "", None, scratch))
        result = read(Node("", "", {} if value is None else {column: value}, scratch))
        if not scratch.items:
            good[raw] = result
    if column not in table.columns:
        return pa.array([None in good] * n), good
    value_set = pa.array(list(good), type=array.type)
    return pc.is_in(array, value_set=value_set, skip_nulls=False), good


def _text_mask(table: BulkTable, column: str) -> pa.Array:
    """Free text (names, e-mails, address parts): any text is accepted as it is."""
    array = table.arrow(column)
    if column not in table.columns or _is_text(array):
        return pa.array([True] * len(table))
    return pc.is_null(array) if array is not None else pa.array([False] * len(table))


def _id_mask(table: BulkTable, column: str) -> pa.Array:
    """A required id: text matching ID_RE (anything else takes the per-row path)."""
    array = table.arrow(column)
    if not _is_text(array) or pa.types.is_null(array.type):
        return pa.array([False] * len(table))
    return pc.fill_null(pc.match_substring_regex(array, ID_PATTERN), False)


def _and(masks: list[pa.Array]) -> list[bool]:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.and_(result, mask)
    return pc.fill_null(result, False).to_pylist()


def _values(table: BulkTable, column: str, mapping: dict[Any, Any] | None = None) -> list[Any]:
    """Each row's value of `column`: mapped (validated) or, for text, the text (empty = missing)."""
    raw = table.columns.get(column)
    if raw is None:  # the column is absent: every row has the missing value's result (a default)
        return [None if mapping is None else mapping.get(None)] * len(table)
    if mapping is not None:
        get = mapping.get
        return [get(v) for v in raw]
    return [v or None for v in raw]


def _check_columns(table: BulkTable, checks: dict[str, Reader]) -> tuple[list[bool], dict[str, list[Any]]]:
    """(each row passes every column's rule, column -> each row's validated value) for the id
    (pattern), the free-text columns of the kind and the `checks` (per distinct value)."""
    masks = [_id_mask(table, "id")] + [_text_mask(table, c) for c in TEXT_FIELDS[table.kind]]
    mapped: dict[str, list[Any]] = {}
    for column, read in checks.items():
        mask, good = _valid_values(table, column, read)
        masks.append(mask)
        mapped[column] = _values(table, column, good)
    return _and(masks), mapped


def _json_ok(node: Node) -> None:
    """The conversion (bulk.py) already parsed the JSON; the YAML path accepts any metadata value."""


def _field(name: str, method: str, **options: Any) -> Reader:
    return lambda node: getattr(node.child(name), method)(**options)


def _customer_currency(node: Node) -> str | None:
    """customer_row's rule for currency: required, an ISO 4217 code of MINOR_UNITS."""
    currency = node.child("currency").string()
    if currency is None or currency not in MINOR_UNITS:
        node.child("currency").error("refused")
    return currency


def bulk_customers(table: BulkTable, customers: Customers, out: NormalizedCatalog) -> None:
    """Validate the bulk customers into `customers` and out.tables["customers"] (after the YAML ones)."""
    rows = out.tables["customers"]
    checks = {
        "currency": _customer_currency,
        "tenant_id": lambda node: _tenant_of(node, None),
        "customer_type": _field(
            "customer_type", "choice", options=("business", "individual"), default="business"
        ),
        "tax_exempt": _field("tax_exempt", "boolean"),
        "created_at": _field("created_at", "date"),
        "metadata": _json_ok,
    }
    fast, mapped = _check_columns(table, checks)
    ids = _values(table, "id")
    text = {c: _values(table, c) for c in TEXT_FIELDS["customers"]}
    address_columns = [(c.removeprefix("address_"), text[c]) for c in text if c.startswith("address_")]
    address_columns = [(part, values) for part, values in address_columns if any(values)]
    for i, customer_id in enumerate(ids):
        tenant = mapped["tenant_id"][i] or DEFAULT_TENANT
        if not fast[i] or (tenant, customer_id) in customers:
            row = customer_row(table.node(i), customers)
            if row is not None:
                rows.append(row)
            continue
        address = {part: values[i] for part, values in address_columns if values[i] is not None}
        row = {
            "tenant_id": tenant,
            "customer_id": customer_id,
            "name": text["name"][i] or customer_id,
            "email": text["email"][i],
            "country": text["country"][i],
            "currency": mapped["currency"][i],
            "customer_type": mapped["customer_type"][i],
            "tax_exempt": mapped["tax_exempt"][i],
            "tax_id": text["tax_id"][i],
            "created_at": mapped["created_at"][i],
            "address_json": json.dumps(address, sort_keys=True, separators=(",", ":"), default=str)
            if address
            else "{}",
        }
        customers.add(row)
        rows.append(row)


def bulk_subscriptions(
    table: BulkTable,
    subs: dict[str, dict[str, Any]],
    customers: Customers,
    plans: dict[str, Any],
    out: NormalizedCatalog,
    places: dict[str, tuple[str, str]] | None,
) -> None:
    """Validate the bulk subscriptions into `subs` and out.tables["subscriptions"] (after the YAML ones)."""
    rows = out.tables["subscriptions"]

    def plan_of(node: Node) -> Any:
        plan_id = node.child("plan_id").string()
        if plan_id not in plans:
            node.error("unknown plan")
        return plans.get(plan_id or "")

    checks = {
        "tenant_id": lambda node: _tenant_of(node, None),
        "plan_id": plan_of,
        "start_date": _field("start_date", "date", required=True),
        "end_date": _field("end_date", "date"),
        "billing_anchor_day": _field("billing_anchor_day", "integer", minimum=1, maximum=28, default=1),
        "trial_days": _field("trial_days", "integer", minimum=0, default=0),
        "trial_usage_amount": lambda node: _s(node.child("trial_usage_amount").decimal(minimum=Decimal(0))),
        "billing_period": _field("billing_period", "choice", options=PERIODS, default="-"),
        "currency": _field("currency", "string"),
        "metadata": _json_ok,
    }
    fast, mapped = _check_columns(table, checks)
    ids, customer_ids = _values(table, "id"), _values(table, "customer_id")
    for i, sub_id in enumerate(ids):
        customer_id, tenant, plan = customer_ids[i], mapped["tenant_id"][i], mapped["plan_id"][i]
        start, end, period = mapped["start_date"][i], mapped["end_date"][i], mapped["billing_period"][i]
        currency = mapped["currency"][i]
        if tenant is not None:
            customer = customers.get((tenant, customer_id))
        else:
            found = customers.by_id.get(customer_id, ())
            customer = found[0] if len(found) == 1 else None
        if (
            not fast[i]
            or customer is None
            or sub_id in subs
            or customer_id is None
            or (end is not None and end <= start)
            or (plan["first_effective"] and start < plan["first_effective"])
            or period not in ("-", plan["billing_period"])
            or currency not in (None, plan["currency"])
            or (customer["currency"] in MINOR_UNITS and customer["currency"] != plan["currency"])
        ):
            node = table.node(i)
            row = subscription_row(node, subs, customers, plans)
            if row is not None:
                rows.append(row)
                if places is not None:
                    places[row["subscription_id"]] = (node.file, node.path)
            continue
        row = {
            "subscription_id": sub_id,
            "tenant_id": customer["tenant_id"],
            "customer_id": customer_id,
            "plan_id": plan["plan_id"],
            "start_date": start,
            "end_date": end,
            "billing_anchor_day": mapped["billing_anchor_day"][i],
            "billing_period": plan["billing_period"],
            "trial_days": mapped["trial_days"][i],
            "trial_usage_amount": mapped["trial_usage_amount"][i],
            "currency": plan["currency"],
        }
        subs[sub_id] = row
        rows.append(row)
        if places is not None:
            places[sub_id] = (table.name, table.labels[i])
