"""Read and validate the catalog YAML files and normalize them into table rows.

`parse_catalog(directory)` returns a `NormalizedCatalog` (one list of row dicts per table, in a
deterministic order) or raises `CatalogError` listing every problem with its file and path.
The table columns are documented in docs/pricing.md ("Normalized tables").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from usagebill.catalog.errors import CatalogError, CatalogIssue
from usagebill.catalog.fields import ID_RE, METER_ID_RE, Issues, Node
from usagebill.catalog.gc_pause import without_cyclic_gc
from usagebill.catalog.yaml_loader import DuplicateKeyError, load_yaml, yaml_error_location
from usagebill.money import MINOR_UNITS
from usagebill.tenants import DEFAULT_TENANT, tenant_name_error

if TYPE_CHECKING:
    from usagebill.catalog.bulk import BulkTable

REQUIRED_FILES = ("meters.yaml", "plans.yaml", "customers.yaml", "subscriptions.yaml")
OPTIONAL_FILES = ("discounts.yaml", "credits.yaml", "commitments.yaml", "contracts.yaml")
AGGREGATIONS = ("sum", "count", "max", "unique_count", "latest", "average", "time_weighted_sum")
USAGE_MODELS = ("per_unit", "package", "graduated", "volume", "percentage")
TIMINGS = ("in_advance", "in_arrears")
PERIODS = ("monthly", "quarterly", "annual")
BLOCK_ROUNDINGS = ("none", "up", "down")
MAX_GROUP_BY = 3

# -- the field table -------------------------------------------------------------------------------
# One table says which fields each kind of catalog item may have; a name ending in "*" is required,
# "+price" adds the pricing fields. It drives Node.mapping (an unknown field or a missing required one
# is an error naming the allowed fields) and the bulk files' columns (usagebill/catalog/bulk.py).
# The pricing fields shared by plan charges, dimension prices and contract prices, in column order:
PRICE_FIELD_NAMES = [
    "model",
    "amount",
    "unit_price",
    "unit_size",
    "block_rounding",
    "package_size",
    "package_price",
    "included_units",
    "tiers",
    "rate",
    "fixed_fee",
    "free_events",
    "free_amount",
    "min_per_event",
    "max_per_event",
]
PRICE_FIELDS = frozenset(PRICE_FIELD_NAMES)
# the price columns of plan_charges and contract_prices (the tiers go to charge_tiers)
PRICE_COLUMNS = ("price_model", *(name for name in PRICE_FIELD_NAMES if name not in ("model", "tiers")))
# the price fields each model reads; any other price field written on a price is an error
MODEL_FIELDS: dict[str, frozenset[str]] = {
    model: frozenset(("model", *names.split()))
    for model, names in {
        "flat": "amount",
        "per_unit": "unit_price unit_size block_rounding included_units",
        "package": "package_size package_price included_units",
        "graduated": "tiers unit_size block_rounding included_units",
        "volume": "tiers unit_size block_rounding included_units",
        "percentage": "rate fixed_fee free_events free_amount min_per_event max_per_event",
    }.items()
}
ITEM_FIELDS: dict[str, str] = {
    "meter": "id* name unit aggregation* value_property unit_multiplier unique_property filters group_by "
    "description",
    "plan": "id* name currency* billing_period bill_charges_monthly versions* description",
    "plan_version": "version* effective_from* charges* description",
    "charge": "id* name type* meter billing_timing bill_monthly dimension dimension_prices description +price",
    "dimension_price": "+price",
    "tier": "up_to unit_price* flat_fee",
    "customer": "id* tenant_id name email country currency* customer_type tax_id tax_exempt created_at "
    "address metadata",
    "subscription": "id* tenant_id customer_id* plan_id* start_date* end_date billing_anchor_day trial_days "
    "trial_usage_amount billing_period currency metadata",
    "discount": "id* name tenant_id customer_id subscription_id plan_id type* percent amount applies_to "
    "duration duration_periods start_date description",
    "credit_grant": "id* tenant_id customer_id* amount* currency granted_at* expires_at description",
    "commitment": "id* subscription_id plan_id amount* effective_from effective_to description",
    "contract": "id* tenant_id customer_id* effective_from* effective_to prices* description",
    "contract_price": "charge_id* plan_id dimension_value description +price",
}


@dataclass(frozen=True)
class ItemFields:
    allowed: frozenset[str]
    required: frozenset[str]


def _item_fields(spec: str) -> ItemFields:
    names = spec.split()
    allowed = {name.rstrip("*") for name in names if name != "+price"}
    return ItemFields(
        frozenset(allowed | (PRICE_FIELDS if "+price" in names else set())),
        frozenset(name.rstrip("*") for name in names if name.endswith("*")),
    )


FIELDS: dict[str, ItemFields] = {kind: _item_fields(spec) for kind, spec in ITEM_FIELDS.items()}
# the allowed fields of the items that may also come in bulk (usagebill/catalog/bulk.py)
CUSTOMER_FIELDS = FIELDS["customer"].allowed
SUBSCRIPTION_FIELDS = FIELDS["subscription"].allowed
CONTRACT_FIELDS = FIELDS["contract"].allowed
CONTRACT_PRICE_FIELDS = FIELDS["contract_price"].allowed


def _item(node: Node, kind: str) -> bool:
    """Is `node` a mapping with only the fields of `kind` and all its required ones (FIELDS)?"""
    fields = FIELDS[kind]
    return node.mapping(fields.allowed, fields.required)


@dataclass
class NormalizedCatalog:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _s(value: Decimal | None) -> str | None:
    """Decimal -> exact string for the raw layer (no exponent)."""
    return None if value is None else format(value, "f")


def _load_yaml(directory: Path, name: str, issues: Issues, required: bool) -> Any:
    path = directory / name
    if not path.exists():
        if required:
            issues.add(name, "", f"file is missing from {directory}; create it (see docs/pricing.md)")
        return None
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        issues.add(name, yaml_error_location(exc), str(exc.problem))
        return None
    except yaml.YAMLError as exc:
        issues.add(name, yaml_error_location(exc), f"is not valid YAML: {getattr(exc, 'problem', exc)}")
        return None


def _root_list(doc: Any, file: str, key: str, issues: Issues, required: bool) -> list[Node]:
    if doc is None:
        return []
    root = Node(file, "", doc, issues)
    if not root.mapping({key}, {key} if required else set()):
        return []
    return root.child(key).items(required=required)


def _ids_unique(nodes: list[tuple[Node, str | None]], what: str) -> None:
    seen: dict[str, str] = {}
    for node, ident in nodes:
        if ident is None:
            continue
        if ident in seen:
            node.child("id").error(f"duplicate {what} id {ident!r} (first at {seen[ident]})")
        else:
            seen[ident] = node.path


# -- meters ------------------------------------------------------------------------------------
def _parse_meters(doc: Any, issues: Issues) -> dict[str, dict[str, Any]]:
    meters: dict[str, dict[str, Any]] = {}
    for node in _root_list(doc, "meters.yaml", "meters", issues, True):
        if not _item(node, "meter"):
            continue
        meter_id = node.child("id").string(pattern=METER_ID_RE)
        aggregation = node.child("aggregation").choice(AGGREGATIONS)
        unique_property = node.child("unique_property").string()
        if aggregation == "unique_count" and not unique_property:
            node.child("unique_property").error("is required when aggregation is unique_count")
        filters: dict[str, list[str]] = {}
        fnode = node.child("filters")
        if fnode.value is not None and fnode.mapping(
            set(fnode.value) if isinstance(fnode.value, dict) else set()
        ):
            for key in sorted(fnode.value):
                vnode = fnode.child(str(key))
                values = vnode.value if isinstance(vnode.value, list) else [vnode.value]
                if not values or not all(isinstance(v, str) and v for v in values):
                    vnode.error("must be a dimension value (string) or a non-empty list of them")
                    continue
                filters[str(key)] = sorted(set(values))
        group_by: list[str] = []
        gnode = node.child("group_by")
        for item in gnode.items(required=False):
            dim = item.string(required=True)
            if dim is not None:
                if dim in group_by:
                    item.error(f"dimension {dim!r} is listed twice")
                group_by.append(dim)
        if len(group_by) > MAX_GROUP_BY:
            gnode.error(f"at most {MAX_GROUP_BY} group-by dimensions are supported, got {len(group_by)}")
        if meter_id is None:
            continue
        if meter_id in meters:
            node.child("id").error(f"duplicate meter id {meter_id!r}")
            continue
        meters[meter_id] = {
            "meter_id": meter_id,
            "name": node.child("name").string() or meter_id,
            "unit": node.child("unit").string() or "unit",
            "aggregation": aggregation,
            "value_property": node.child("value_property").string(),
            "unit_multiplier": _s(node.child("unit_multiplier").decimal(positive=True, default=Decimal(1))),
            "unique_property": unique_property,
            "filters_json": json.dumps(filters, sort_keys=True, separators=(",", ":")),
            "group_by_json": json.dumps(group_by, separators=(",", ":")),
            "group_by_1": group_by[0] if len(group_by) > 0 else None,
            "group_by_2": group_by[1] if len(group_by) > 1 else None,
            "group_by_3": group_by[2] if len(group_by) > 2 else None,
        }
    return meters


# -- prices (plan charges, dimension prices, contract prices) ------------------------------------
def _parse_price(
    node: Node,
    charge_type: str,
    base: dict[str, Any] | None,
    price_id: str,
    tiers_out: list[dict[str, Any]],
    model_optional: bool = False,
) -> dict[str, Any]:
    """Pricing fields of `node` (falling back to `base` for dimension prices) plus its tiers."""
    values: dict[str, Any] = dict(base) if base else {c: None for c in PRICE_COLUMNS}
    base_tiers = values.pop("_tiers", None)
    if charge_type == "recurring":
        model = node.child("model").choice(("flat",), default=values.get("price_model") or "flat")
        values["price_model"] = model
        _fields_of_model(node, "flat")
        if node.value.get("amount") is not None or base is None:
            values["amount"] = _s(node.child("amount").decimal(required=True, minimum=Decimal(0)))
        values["_tiers"] = None
        return values
    default_model = values.get("price_model")
    if model_optional and node.value.get("model") is None:
        model = None
    else:
        model = node.child("model").choice(USAGE_MODELS, default=default_model)
    values["price_model"] = model
    if model is not None:
        _fields_of_model(node, model)
    for key, kind in (
        ("unit_price", "min0"),
        ("unit_size", "pos"),
        ("package_size", "pos"),
        ("package_price", "min0"),
        ("included_units", "min0"),
        ("fixed_fee", "min0"),
        ("free_amount", "min0"),
        ("min_per_event", "min0"),
        ("max_per_event", "min0"),
    ):
        if node.value.get(key) is not None:
            number = node.child(key).decimal(positive=kind == "pos", minimum=Decimal(0))
            values[key] = _s(number)
    if node.value.get("rate") is not None:
        values["rate"] = _s(node.child("rate").percent())
    if node.value.get("block_rounding") is not None:
        values["block_rounding"] = node.child("block_rounding").choice(BLOCK_ROUNDINGS)
    if node.value.get("free_events") is not None:
        values["free_events"] = node.child("free_events").integer(minimum=0)
    if values.get("unit_size") is None:
        values["unit_size"] = "1"
    if values.get("included_units") is None:
        values["included_units"] = "0"
    if values.get("block_rounding") is None and model in ("per_unit", "graduated", "volume"):
        values["block_rounding"] = "none"
    required = {
        "per_unit": ("unit_price",),
        "package": ("package_size", "package_price"),
        "percentage": ("rate",),
        "graduated": (),
        "volume": (),
    }.get(model or "", ())
    for key in required:
        if values.get(key) is None:
            node.child(key).error(f"is required for model {model}")  # no-op when its value was refused
    if model == "percentage":
        lo, hi = values.get("min_per_event"), values.get("max_per_event")
        if lo is not None and hi is not None and Decimal(lo) > Decimal(hi):
            node.child("max_per_event").error(f"{hi} is below min_per_event {lo}")
    tiers: list[dict[str, Any]] | None = base_tiers
    if node.value.get("tiers") is not None:
        tiers = []
        previous: Decimal | None = Decimal(0)
        tier_nodes = node.child("tiers").items()
        for index, tnode in enumerate(tier_nodes):
            if not _item(tnode, "tier"):
                continue
            up_to = tnode.child("up_to").decimal(positive=True)
            is_last = index == len(tier_nodes) - 1
            if tnode.value.get("up_to") is None and not is_last:
                tnode.child("up_to").error("only the last tier may be open-ended (up_to: null)")
            if is_last and tnode.value.get("up_to") is not None:
                tnode.child("up_to").error("the last tier must be open-ended: write up_to: null")
            if up_to is not None and previous is not None and up_to <= previous:
                tnode.child("up_to").error(
                    f"{up_to} must be greater than the previous tier's up_to ({previous})"
                )
            tiers.append(
                {
                    "tier": index + 1,
                    "lower_bound": _s(previous) if previous is not None else None,
                    "up_to": _s(up_to),
                    "unit_price": _s(tnode.child("unit_price").decimal(required=True, minimum=Decimal(0))),
                    "flat_fee": _s(tnode.child("flat_fee").decimal(minimum=Decimal(0), default=Decimal(0))),
                }
            )
            previous = up_to
    rounding, size = values.get("block_rounding"), values.get("unit_size")
    if model in ("graduated", "volume") and rounding in ("up", "down") and size and tiers:
        for tier in tiers:
            if tier["up_to"] is not None and Decimal(tier["up_to"]) % Decimal(size) != 0:
                node.child("tiers").child(tier["tier"] - 1).child("up_to").error(
                    f"{tier['up_to']} is not a whole number of blocks of unit_size {size}; with "
                    f"block_rounding {rounding} every tier must end on a block boundary"
                )
    if model in ("graduated", "volume") and not tiers:
        node.child("tiers").error(f"is required for model {model} (a list of up_to/unit_price)")
    for tier in tiers or []:
        tiers_out.append({"price_id": price_id, **tier})
    values["_tiers"] = tiers
    return values


def _fields_of_model(node: Node, model: str) -> None:
    """A price field written on `node` that `model` does not read is an error (it would be ignored)."""
    if not isinstance(node.value, dict):
        return
    allowed = MODEL_FIELDS.get(model, set())
    for key in sorted(PRICE_FIELDS & set(node.value) - allowed):
        if node.value.get(key) is None:
            continue
        node.child(key).error(
            f"does not belong to model {model} (it would be ignored); remove it or change the model. "
            f"Model {model} reads: {', '.join(sorted(allowed - {'model'}))}"
        )


def _price_columns(values: dict[str, Any]) -> dict[str, Any]:
    return {c: values.get(c) for c in PRICE_COLUMNS}


def _parse_plans(
    doc: Any, meters: dict[str, dict[str, Any]], issues: Issues, out: NormalizedCatalog
) -> dict[str, dict[str, Any]]:
    plans: dict[str, dict[str, Any]] = {}
    for pnode in _root_list(doc, "plans.yaml", "plans", issues, True):
        if not _item(pnode, "plan"):
            continue
        plan_id = pnode.child("id").string(pattern=ID_RE)
        currency = pnode.child("currency").string()
        if currency is not None and currency not in MINOR_UNITS:
            pnode.child("currency").error(
                f"unknown currency {currency!r}; use an ISO 4217 code from usagebill.money.MINOR_UNITS"
            )
        period = pnode.child("billing_period").choice(PERIODS, default="monthly")
        plan_monthly = pnode.child("bill_charges_monthly").boolean()
        if plan_monthly and period == "monthly":
            pnode.child("bill_charges_monthly").error(
                "only applies to quarterly and annual plans (a monthly plan already bills its usage monthly)"
            )
        if plan_id in plans:
            pnode.child("id").error(f"duplicate plan id {plan_id!r}")
            continue
        versions = []
        vnodes = pnode.child("versions").items()
        if not vnodes and isinstance(pnode.value.get("versions"), list):
            pnode.child("versions").error("needs at least one version")
        for vnode in vnodes:
            if not _item(vnode, "plan_version"):
                continue
            number = vnode.child("version").integer(required=True, minimum=1)
            effective = vnode.child("effective_from").date(required=True)
            if versions and number is not None and versions[-1][0] is not None and number <= versions[-1][0]:
                vnode.child("version").error(f"versions must increase; {number} follows {versions[-1][0]}")
            if versions and effective and versions[-1][1] and effective <= versions[-1][1]:
                vnode.child("effective_from").error(
                    f"{effective} must be after the previous version's effective_from {versions[-1][1]}"
                )
            versions.append((number, effective, vnode))
        charge_rows: list[dict[str, Any]] = []
        version_rows: list[dict[str, Any]] = []
        for index, (number, effective, vnode) in enumerate(versions):
            following = versions[index + 1][1] if index + 1 < len(versions) else None
            version_rows.append(
                {
                    "plan_id": plan_id,
                    "plan_version": number,
                    "effective_from": effective,
                    "effective_to": following,
                }
            )
            charge_ids: set[str] = set()
            meter_monthly: dict[str, bool] = {}
            for cnode in vnode.child("charges").items():
                if not _item(cnode, "charge"):
                    continue
                charge_id = cnode.child("id").string(pattern=ID_RE)
                if charge_id in charge_ids:
                    cnode.child("id").error(f"duplicate charge id {charge_id!r} in this version")
                charge_ids.add(charge_id or "")
                charge_type = cnode.child("type").choice(("recurring", "usage"))
                if charge_type is None:
                    continue
                meter_id = cnode.child("meter").string()
                timing_default = "in_advance" if charge_type == "recurring" else "in_arrears"
                timing = cnode.child("billing_timing").choice(TIMINGS, default=timing_default)
                if charge_type == "usage":
                    if meter_id is None:
                        cnode.child("meter").error("is required for a usage charge")
                    elif meter_id not in meters:
                        cnode.child("meter").error(f"unknown meter {meter_id!r}; define it in meters.yaml")
                    if timing == "in_advance":
                        cnode.child("billing_timing").error("usage is billed in_arrears")
                elif meter_id is not None:
                    cnode.child("meter").error("a recurring charge has no meter")
                bill_monthly = cnode.child("bill_monthly").boolean(default=plan_monthly)
                if cnode.value.get("bill_monthly") is not None:
                    if charge_type != "usage":
                        cnode.child("bill_monthly").error(
                            "applies to usage charges only (a recurring fee follows the plan's billing_period)"
                        )
                    elif period == "monthly":
                        cnode.child("bill_monthly").error(
                            "only applies on quarterly and annual plans (monthly plans bill usage monthly)"
                        )
                if (
                    charge_type == "usage"
                    and meter_id is not None
                    and period != "monthly"
                    and meter_monthly.setdefault(meter_id, bill_monthly) != bill_monthly
                ):
                    cnode.child("bill_monthly").error(
                        f"charges on meter {meter_id!r} in one plan version must all be billed monthly "
                        "or all with the plan's billing_period"
                    )
                price_id = f"{plan_id}:v{number}:{charge_id}"
                base = _parse_price(
                    cnode,
                    charge_type,
                    None,
                    price_id,
                    out.tables["charge_tiers"],
                    model_optional=cnode.value.get("dimension") is not None,
                )
                common = {
                    "plan_id": plan_id,
                    "plan_version": number,
                    "charge_id": charge_id,
                    "charge_name": cnode.child("name").string() or charge_id,
                    "charge_type": charge_type,
                    "meter_id": meter_id,
                    "billing_timing": timing,
                    "usage_interval": "monthly"
                    if charge_type == "usage" and (bill_monthly or period == "monthly")
                    else (period if charge_type == "usage" else None),
                }
                dimension = cnode.child("dimension").string()
                dim_prices = cnode.child("dimension_prices")
                if dimension is not None:
                    meter = meters.get(meter_id or "")
                    if charge_type != "usage":
                        cnode.child("dimension").error("dimensional prices apply to usage charges only")
                    elif meter is not None and dimension not in json.loads(meter["group_by_json"]):
                        cnode.child("dimension").error(
                            f"{dimension!r} is not in meter {meter_id!r} group_by; add it there first"
                        )
                    if not isinstance(dim_prices.value, dict) or not dim_prices.value:
                        dim_prices.error("is required with dimension: a mapping value -> price fields")
                    else:
                        for value in sorted(dim_prices.value, key=str):
                            dnode = dim_prices.child(str(value))
                            if not _item(dnode, "dimension_price"):
                                continue
                            dim_price_id = f"{price_id}:{dimension}={value}"
                            priced = _parse_price(
                                dnode, charge_type, base, dim_price_id, out.tables["charge_tiers"]
                            )
                            charge_rows.append(
                                {
                                    **common,
                                    "price_id": dim_price_id,
                                    "dimension_name": dimension,
                                    "dimension_value": str(value),
                                    **_price_columns(priced),
                                }
                            )
                elif dim_prices.value is not None:
                    dim_prices.error("needs `dimension:` naming the dimension the prices depend on")
                has_base = charge_type == "recurring" or base.get("price_model") is not None
                if dimension is None or has_base:
                    if base.get("price_model") is None and charge_type == "usage":
                        cnode.child("model").error(f"is required (one of {', '.join(USAGE_MODELS)})")
                    charge_rows.append(
                        {
                            **common,
                            "price_id": price_id,
                            "dimension_name": dimension,
                            "dimension_value": None,
                            **_price_columns(base),
                        }
                    )
        if plan_id is None:
            continue
        plans[plan_id] = {
            "plan_id": plan_id,
            "name": pnode.child("name").string() or plan_id,
            "currency": currency,
            "billing_period": period,
            "first_effective": min((v[1] for v in versions if v[1]), default=None),
        }
        out.tables["plans"].append({k: v for k, v in plans[plan_id].items() if k != "first_effective"})
        out.tables["plan_versions"].extend(version_rows)
        out.tables["plan_charges"].extend(charge_rows)
    return plans


# -- customers and subscriptions -------------------------------------------------------------------
# A customer's identity is (tenant_id, customer_id): two tenants may both have a customer "cus_1".
CustomerKey = tuple[str, str]


class Customers(dict[CustomerKey, dict[str, Any]]):
    """Customer rows by (tenant_id, customer_id), with an index by customer id alone."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, list[dict[str, Any]]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self[(row["tenant_id"], row["customer_id"])] = row
        self.by_id.setdefault(row["customer_id"], []).append(row)


def _tenant_of(node: Node, default: str | None) -> str | None:
    """The node's optional tenant_id, checked with the collector's rule (usagebill.tenants)."""
    value = node.child("tenant_id").value
    if value is None:
        return default
    if (problem := tenant_name_error(value)) is not None:
        node.child("tenant_id").error(problem)
        return None
    return value


def _customer_ref(
    node: Node, customers: Customers, key: str = "customer_id"
) -> tuple[str | None, dict[str, Any] | None]:
    """Resolve a reference to a customer: ``customer_id`` plus an optional ``tenant_id``, needed only
    when that customer id exists in more than one tenant. Returns (tenant_id, customer row)."""
    customer_id = node.child(key).string()
    tenant = _tenant_of(node, None)
    if customer_id is None:
        return tenant, None
    if tenant is not None:
        row = customers.get((tenant, customer_id))
        if row is None:
            node.child(key).error(
                f"unknown customer {customer_id!r} in tenant {tenant!r}; define it in customers.yaml"
            )
        return tenant, row
    rows = customers.by_id.get(customer_id, [])
    if not rows:
        node.child(key).error(f"unknown customer {customer_id!r}; define it in customers.yaml")
        return None, None
    if len(rows) > 1:
        tenants = ", ".join(sorted(r["tenant_id"] for r in rows))
        node.child(key).error(
            f"customer {customer_id!r} exists in tenants {tenants}; add tenant_id to say which one"
        )
        return None, None
    return rows[0]["tenant_id"], rows[0]


def customer_row(node: Node, customers: Customers) -> dict[str, Any] | None:
    """One customer (a customers.yaml item or a bulk file row, usagebill/catalog/bulk.py): its
    normalized row, added to `customers`, or None with the problems recorded on the node."""
    if not _item(node, "customer"):
        return None
    customer_id = node.child("id").string(pattern=ID_RE)
    currency = node.child("currency").string()
    if currency is not None and currency not in MINOR_UNITS:
        node.child("currency").error(f"unknown currency {currency!r}; use an ISO 4217 code")
    address = node.child("address").value
    if address is not None and not isinstance(address, dict):
        node.child("address").error("must be a mapping (line1, city, postal_code, country)")
        address = None
    tenant_id = _tenant_of(node, DEFAULT_TENANT)
    if customer_id is None or tenant_id is None:
        return None
    if (tenant_id, customer_id) in customers:
        node.child("id").error(f"duplicate customer id {customer_id!r} in tenant {tenant_id!r}")
        return None
    row = {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "name": node.child("name").string() or customer_id,
        "email": node.child("email").string(),
        "country": node.child("country").string(),
        "currency": currency,
        "customer_type": node.child("customer_type").choice(("business", "individual"), default="business"),
        "tax_id": node.child("tax_id").string(),
        "tax_exempt": node.child("tax_exempt").boolean(),
        "created_at": node.child("created_at").date(),
        "address_json": json.dumps(address or {}, sort_keys=True, separators=(",", ":"), default=str),
    }
    customers.add(row)
    return row


def _parse_customers(
    doc: Any, issues: Issues, out: NormalizedCatalog, bulk: BulkTable | None = None
) -> Customers:
    """customers.yaml's items, then the bulk file's rows (validated column-wise, catalog/columnar.py)."""
    from usagebill.catalog.columnar import bulk_customers

    customers = Customers()
    for node in _root_list(doc, "customers.yaml", "customers", issues, not bulk):
        row = customer_row(node, customers)
        if row is not None:
            out.tables["customers"].append(row)
    if bulk:
        bulk_customers(bulk, customers, out)
    return customers


def customer_tenants(directory: Path | str) -> dict[str, frozenset[str]]:
    """customer_id -> the tenants that have a customer with that id, from customers.yaml and the
    bulk customers file (customers.csv / .parquet) alone (the collector uses it to refuse events
    for another tenant's customer). Raises CatalogError when they are missing or invalid."""
    from usagebill.catalog.bulk import discover, read_table

    issues = Issues()
    bulk = discover(Path(directory), issues).get("customers")
    doc = _load_yaml(Path(directory), "customers.yaml", issues, bulk is None)
    customers = _parse_customers(
        doc, issues, NormalizedCatalog({"customers": []}), read_table(bulk, "customers", issues)
    )
    if issues.items:
        raise CatalogError(issues.items)
    return {cid: frozenset(row["tenant_id"] for row in rows) for cid, rows in customers.by_id.items()}


def subscription_row(
    node: Node, subs: dict[str, dict[str, Any]], customers: Customers, plans: dict[str, Any]
) -> dict[str, Any] | None:
    """One subscription (a subscriptions.yaml item or a bulk file row): its normalized row, added
    to `subs`, or None with the problems recorded on the node."""
    if not _item(node, "subscription"):
        return None
    sub_id = node.child("id").string(pattern=ID_RE)
    customer_id = node.child("customer_id").string()
    tenant_id, customer = _customer_ref(node, customers)
    plan_id = node.child("plan_id").string()
    start, end = _date_range(node, "start_date", "end_date", start_required=True, note="end is exclusive")
    anchor = node.child("billing_anchor_day").integer(minimum=1, maximum=28, default=1)
    trial_days = node.child("trial_days").integer(minimum=0, default=0)
    trial_amount = node.child("trial_usage_amount").decimal(minimum=Decimal(0))
    plan = plans.get(plan_id or "")
    if plan_id is not None and plan is None:
        node.child("plan_id").error(f"unknown plan {plan_id!r}; define it in plans.yaml")
    if plan and start and plan["first_effective"] and start < plan["first_effective"]:
        node.child("start_date").error(
            f"{start} is before plan {plan_id!r} has a price (first version effective {plan['first_effective']})"
        )
    period = node.child("billing_period").choice(
        PERIODS, default=(plan or {}).get("billing_period", "monthly")
    )
    if plan and period is not None and period != plan["billing_period"]:
        node.child("billing_period").error(
            f"{period} differs from plan {plan_id!r} billing_period {plan['billing_period']}"
        )
    currency = node.child("currency").string() or (plan or {}).get("currency")
    if plan and currency != plan["currency"]:
        node.child("currency").error(f"{currency} differs from plan {plan_id!r} currency {plan['currency']}")
    if plan and customer and customer["currency"] in MINOR_UNITS and plan["currency"] != customer["currency"]:
        node.child("plan_id").error(
            f"plan {plan_id!r} is priced in {plan['currency']} but customer {customer_id!r} pays in "
            f"{customer['currency']}; use the plan variant in {customer['currency']}"
        )
    if sub_id is None:
        return None
    if sub_id in subs:
        node.child("id").error(f"duplicate subscription id {sub_id!r}")
        return None
    row = {
        "subscription_id": sub_id,
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "plan_id": plan_id,
        "start_date": start,
        "end_date": end,
        "billing_anchor_day": anchor,
        "billing_period": period,
        "trial_days": trial_days,
        "trial_usage_amount": _s(trial_amount),
        "currency": currency,
    }
    subs[sub_id] = row
    return row


def _parse_subscriptions(
    doc: Any,
    customers: Customers,
    plans: dict[str, Any],
    issues: Issues,
    out: NormalizedCatalog,
    bulk: BulkTable | None = None,
    places: dict[str, tuple[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """`places` gets the file and path of each subscription (for the checks across subscriptions).
    subscriptions.yaml's items, then the bulk file's rows (validated column-wise, catalog/columnar.py)."""
    from usagebill.catalog.columnar import bulk_subscriptions

    subs: dict[str, dict[str, Any]] = {}
    for node in _root_list(doc, "subscriptions.yaml", "subscriptions", issues, not bulk):
        row = subscription_row(node, subs, customers, plans)
        if row is not None:
            out.tables["subscriptions"].append(row)
            if places is not None:
                places[row["subscription_id"]] = (node.file, node.path)
    if bulk:
        bulk_subscriptions(bulk, subs, customers, plans, out, places)
    return subs


def _check_overlapping_meters(
    subs: dict[str, dict[str, Any]],
    out: NormalizedCatalog,
    issues: Issues,
    places: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Two subscriptions of a customer may overlap in time (add-ons) but not both price the same meter:
    its usage would be billed twice."""
    meters_of: dict[str, set[str]] = {}
    for charge in out.tables["plan_charges"]:
        if charge["meter_id"]:
            meters_of.setdefault(charge["plan_id"], set()).add(charge["meter_id"])
    by_customer: dict[tuple[Any, Any], list[tuple[int, dict[str, Any]]]] = {}
    for index, sub in enumerate(out.tables["subscriptions"]):
        by_customer.setdefault((sub["tenant_id"], sub["customer_id"]), []).append((index, sub))
    far = date(9999, 12, 31)
    for entries in by_customer.values():
        if len(entries) < 2:
            continue
        entries.sort(key=lambda e: (e[1]["start_date"] or far, e[1]["subscription_id"]))
        for pos, (index, sub) in enumerate(entries):
            for _, other in entries[pos + 1 :]:
                if not sub["start_date"] or not other["start_date"]:
                    continue
                if other["start_date"] >= (sub["end_date"] or far):
                    break
                shared = meters_of.get(sub["plan_id"], set()) & meters_of.get(other["plan_id"], set())
                if shared:
                    issues.add(
                        *(places or {}).get(
                            sub["subscription_id"], ("subscriptions.yaml", f"subscriptions[{index}]")
                        ),
                        f"{sub['subscription_id']} overlaps {other['subscription_id']} of the same customer "
                        f"and both price meter(s) {', '.join(sorted(shared))}: that usage would be billed "
                        "twice; end one subscription where the other starts",
                    )


# -- discounts, credits, commitments, contracts -----------------------------------------------------
def _check_minor(node: Node, amount: Decimal | None, currency: str | None) -> None:
    if amount is None or currency not in MINOR_UNITS:
        return
    if amount != amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency])):
        node.error(
            f"{amount} {currency} is finer than the currency's minor unit ({MINOR_UNITS[currency]} places)"
        )


def _optional_items(
    doc: Any, file: str, key: str, kind: str, issues: Issues
) -> Iterator[tuple[Node, str | None]]:
    """Each item of the optional list `key` of `file` that has the fields of `kind`, with its id."""
    for node in _root_list(doc, file, key, issues, False):
        if _item(node, kind):
            yield node, node.child("id").string(pattern=ID_RE)


def _date_range(
    node: Node, start_key: str, end_key: str, start_required: bool = False, note: str = "exclusive"
) -> tuple[date | None, date | None]:
    """The item's [start, end) dates; an end on or before the start is an error on the end."""
    start = node.child(start_key).date(required=start_required)
    end = node.child(end_key).date()
    if start and end and end <= start:
        node.child(end_key).error(f"{end} must be after {start_key} {start} ({note})")
    return start, end


def _amount(node: Node, currency: str | None) -> Decimal | None:
    """The item's required, positive `amount`, in whole minor units of `currency`."""
    amount = node.child("amount").decimal(required=True, positive=True)
    _check_minor(node.child("amount"), amount, currency)
    return amount


def _parse_discounts(
    doc: Any, customers: dict, subs: dict, plans: dict, issues: Issues, out: NormalizedCatalog
) -> None:
    ids = []
    for node, discount_id in _optional_items(doc, "discounts.yaml", "discounts", "discount", issues):
        ids.append((node, discount_id))
        targets = [k for k in ("customer_id", "subscription_id", "plan_id") if node.value.get(k) is not None]
        if len(targets) != 1:
            node.error("names exactly one of customer_id, subscription_id or plan_id (what it applies to)")
        refs = {"subscription_id": subs, "plan_id": plans}
        tenant_id, customer = _customer_ref(node, customers) if "customer_id" in targets else (None, None)
        for key in targets:
            if key != "customer_id" and str(node.value[key]) not in refs[key]:
                node.child(key).error(f"unknown {key[:-3]} {node.value[key]!r}")
        if "subscription_id" in targets:
            tenant_id = subs.get(str(node.value["subscription_id"]), {}).get("tenant_id")
        if "plan_id" in targets and node.value.get("tenant_id") is not None:
            node.child("tenant_id").error("a plan discount applies to every tenant; remove tenant_id")
        kind = node.child("type").choice(("percentage", "fixed"))
        percent = node.child("percent").percent()
        amount = node.child("amount").decimal(minimum=Decimal(0))
        currency = None
        if kind == "percentage":
            if percent is None:
                node.child("percent").error('is required for a percentage discount (percent, "15" = 15 %)')
            if node.value.get("amount") is not None:
                node.child("amount").error(
                    "does not belong to a percentage discount; use percent or type: fixed"
                )
        elif kind == "fixed":
            if node.value.get("percent") is not None:
                node.child("percent").error(
                    "does not belong to a fixed discount; use amount or type: percentage"
                )
            if amount is None:
                node.child("amount").error("is required for a fixed discount")
            if targets == ["plan_id"]:
                currency = plans.get(str(node.value["plan_id"]), {}).get("currency")
            elif targets == ["subscription_id"]:
                currency = subs.get(str(node.value["subscription_id"]), {}).get("currency")
            elif targets == ["customer_id"]:
                currency = (customer or {}).get("currency")
            _check_minor(node.child("amount"), amount, currency)
        duration = node.child("duration").choice(("once", "repeating", "forever"), default="forever")
        periods = node.child("duration_periods").integer(minimum=1)
        if duration == "repeating" and periods is None:
            node.child("duration_periods").error("is required when duration is repeating")
        if duration == "once":
            periods = 1
        out.tables["discounts"].append(
            {
                "discount_id": discount_id,
                "name": node.child("name").string() or discount_id,
                "tenant_id": tenant_id,
                "customer_id": node.child("customer_id").string(),
                "subscription_id": node.child("subscription_id").string(),
                "plan_id": node.child("plan_id").string(),
                "discount_type": kind,
                "percent": _s(percent),
                "amount": _s(amount),
                "applies_to": node.child("applies_to").choice(("all", "recurring", "usage"), default="all"),
                "duration": duration,
                "duration_periods": periods if duration != "forever" else None,
                "start_date": node.child("start_date").date(),
            }
        )
    _ids_unique(ids, "discount")


def _parse_credits(doc: Any, customers: dict, issues: Issues, out: NormalizedCatalog) -> None:
    ids = []
    for node, grant_id in _optional_items(doc, "credits.yaml", "credit_grants", "credit_grant", issues):
        ids.append((node, grant_id))
        customer_id = node.child("customer_id").string()
        tenant_id, customer = _customer_ref(node, customers)
        currency = node.child("currency").string() or (customer or {}).get("currency")
        if customer and currency != customer["currency"]:
            node.child("currency").error(
                f"{currency} differs from the customer's currency {customer['currency']}"
            )
        amount = _amount(node, currency)
        granted, expires = _date_range(node, "granted_at", "expires_at", start_required=True)
        out.tables["credit_grants"].append(
            {
                "grant_id": grant_id,
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "currency": currency,
                "amount": _s(amount),
                "granted_at": granted,
                "expires_at": expires,
                "description": node.child("description").string() or "prepaid credit",
            }
        )
    _ids_unique(ids, "credit grant")


def _parse_commitments(doc: Any, subs: dict, plans: dict, issues: Issues, out: NormalizedCatalog) -> None:
    ids = []
    for node, commitment_id in _optional_items(doc, "commitments.yaml", "commitments", "commitment", issues):
        ids.append((node, commitment_id))
        sub_id = node.child("subscription_id").string()
        plan_id = node.child("plan_id").string()
        if (sub_id is None) == (plan_id is None):
            node.error("names exactly one of subscription_id or plan_id (every subscription of the plan)")
        sub = subs.get(sub_id or "")
        if sub_id is not None and sub is None:
            node.child("subscription_id").error(f"unknown subscription {sub_id!r}")
        plan = plans.get(plan_id or "")
        if plan_id is not None and plan is None:
            node.child("plan_id").error(f"unknown plan {plan_id!r}")
        currency = (sub or plan or {}).get("currency")
        amount = _amount(node, currency)
        start, end = _date_range(node, "effective_from", "effective_to")
        out.tables["commitments"].append(
            {
                "commitment_id": commitment_id,
                "subscription_id": sub_id,
                "plan_id": plan_id,
                "amount": _s(amount),
                "currency": currency,
                "effective_from": start,
                "effective_to": end,
            }
        )
    _ids_unique(ids, "commitment")


# a contract's id, tenant, customer and [effective_from, effective_to)
ContractHead = tuple[str | None, str | None, str | None, date | None, date | None]


def contract_head(node: Node, customers: Customers, id_field: str = "id") -> ContractHead:
    """A contract's id, tenant, customer and effective range, checked (a contracts.yaml item, or a
    bulk contract-price row, whose id column is `contract_id`)."""
    contract_id = node.child(id_field).string(pattern=ID_RE)
    customer_id = node.child("customer_id").string()
    tenant_id, _ = _customer_ref(node, customers)
    start, end = _date_range(node, "effective_from", "effective_to", start_required=True)
    return contract_id, tenant_id, customer_id, start, end


def contract_price_row(
    pnode: Node,
    price_id: str,
    head: ContractHead,
    charges: dict[str, list[dict[str, Any]]],
    plans: dict[str, Any],
    out: NormalizedCatalog,
) -> dict[str, Any] | None:
    """One contract price (a contracts.yaml prices item or a bulk row); its tiers go to charge_tiers."""
    contract_id, tenant_id, customer_id, start, end = head
    charge_id = pnode.child("charge_id").string()
    plan_id = pnode.child("plan_id").string()
    if plan_id is not None and plan_id not in plans:
        pnode.child("plan_id").error(f"unknown plan {plan_id!r}")
    matches = [c for c in charges.get(charge_id or "", []) if plan_id in (None, c["plan_id"])]
    if charge_id is not None and not matches:
        pnode.child("charge_id").error(
            f"no plan charge {charge_id!r}" + (f" in plan {plan_id!r}" if plan_id else "")
        )
        return None
    charge_type = matches[0]["charge_type"] if matches else "usage"
    priced = _parse_price(pnode, charge_type, None, price_id, out.tables["charge_tiers"])
    if priced.get("price_model") is None:
        pnode.child("model").error("is required (the contract price replaces the plan's price)")
    return {
        "price_id": price_id,
        "contract_id": contract_id,
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "plan_id": plan_id,
        "charge_id": charge_id,
        "dimension_value": pnode.child("dimension_value").string(),
        "effective_from": start,
        "effective_to": end,
        **_price_columns(priced),
    }


def charges_by_id(out: NormalizedCatalog) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for row in out.tables["plan_charges"]:
        found.setdefault(row["charge_id"], []).append(row)
    return found


def _parse_contracts(
    doc: Any, customers: Customers, plans: dict, issues: Issues, out: NormalizedCatalog
) -> list[tuple[Node, str | None]]:
    charges = charges_by_id(out)
    ids = []
    for node in _root_list(doc, "contracts.yaml", "contracts", issues, False):
        if not _item(node, "contract"):
            continue
        head = contract_head(node, customers)
        ids.append((node, head[0]))
        for index, pnode in enumerate(node.child("prices").items()):
            if not _item(pnode, "contract_price"):
                continue
            row = contract_price_row(pnode, f"{head[0]}:{index}", head, charges, plans, out)
            if row is not None:
                out.tables["contract_prices"].append(row)
    return ids


TABLES = (
    "meters",
    "meter_filters",
    "plans",
    "plan_versions",
    "plan_charges",
    "charge_tiers",
    "customers",
    "subscriptions",
    "discounts",
    "credit_grants",
    "commitments",
    "contract_prices",
    "currencies",
)


@without_cyclic_gc
def parse_catalog(directory: Path | str, bulk: Mapping[str, Any] | None = None) -> NormalizedCatalog:
    """Validate every file of the catalog in `directory`; return the normalized tables.

    Customers, subscriptions and contract prices may also come in bulk (usagebill/catalog/bulk.py):
    customers.csv / .parquet... found in `directory`, or `bulk` (kind -> CSV/Parquet path or
    bulk.SqlSource), which replaces the folder's file of that kind. Their rows go through the same
    validation as the YAML items; customers.yaml / subscriptions.yaml are then optional.
    Raises CatalogError listing each problem as `file: path: what is wrong`.
    """
    from usagebill.catalog.bulk import bulk_contract_prices, read_table, sources_for

    directory = Path(directory)
    issues = Issues()
    out = NormalizedCatalog({name: [] for name in TABLES})
    if not directory.is_dir():
        raise CatalogError(
            [
                CatalogIssue(
                    str(directory),
                    "",
                    "catalog directory does not exist; pass --catalog DIR or set USAGEBILL_CATALOG_DIR",
                )
            ]
        )
    sources = sources_for(directory, bulk, issues)
    in_bulk = {"customers.yaml": "customers", "subscriptions.yaml": "subscriptions"}
    docs = {
        name: _load_yaml(directory, name, issues, in_bulk.get(name) not in sources) for name in REQUIRED_FILES
    }
    docs.update({name: _load_yaml(directory, name, issues, False) for name in OPTIONAL_FILES})
    if issues.items:
        # a file that is missing or not YAML makes every reference to it fail: report these first
        raise CatalogError(issues.items)
    meters = _parse_meters(docs["meters.yaml"], issues)
    out.tables["meters"] = list(meters.values())
    out.tables["meter_filters"] = [
        {"meter_id": meter_id, "dimension": dim, "value": value}
        for meter_id, meter in meters.items()
        for dim, values in json.loads(meter["filters_json"]).items()
        for value in values
    ]
    plans = _parse_plans(docs["plans.yaml"], meters, issues, out)
    places: dict[str, tuple[str, str]] = {}
    customers = _parse_customers(
        docs["customers.yaml"], issues, out, read_table(sources.get("customers"), "customers", issues)
    )
    subs = _parse_subscriptions(
        docs["subscriptions.yaml"],
        customers,
        plans,
        issues,
        out,
        read_table(sources.get("subscriptions"), "subscriptions", issues),
        places,
    )
    _check_overlapping_meters(subs, out, issues, places)
    _parse_discounts(docs["discounts.yaml"], customers, subs, plans, issues, out)
    _parse_credits(docs["credits.yaml"], customers, issues, out)
    _parse_commitments(docs["commitments.yaml"], subs, plans, issues, out)
    contract_ids = _parse_contracts(docs["contracts.yaml"], customers, plans, issues, out)
    _ids_unique(contract_ids, "contract")
    bulk_contract_prices(sources.get("contract_prices"), customers, plans, issues, out, contract_ids)
    if issues.items:
        raise CatalogError(issues.items)
    out.tables["currencies"] = [{"currency": c, "minor_unit": m} for c, m in MINOR_UNITS.items()]
    keys = {
        "meters": ("meter_id",),
        "meter_filters": ("meter_id", "dimension", "value"),
        "plans": ("plan_id",),
        "plan_versions": ("plan_id", "plan_version"),
        "plan_charges": ("price_id",),
        "charge_tiers": ("price_id", "tier"),
        "customers": ("tenant_id", "customer_id"),
        "subscriptions": ("subscription_id",),
        "discounts": ("discount_id",),
        "credit_grants": ("grant_id",),
        "commitments": ("commitment_id",),
        "contract_prices": ("price_id",),
        "currencies": ("currency",),
    }
    for name, key in keys.items():
        get = itemgetter(*key)
        # the rows' order by their key as text (a one-field key: the text alone orders the same)
        sort_key = (
            (lambda row, get=get: str(get(row)))
            if len(key) == 1
            else (lambda row, get=get: tuple(map(str, get(row))))
        )
        out.tables[name].sort(key=sort_key)
    return out


def _date_or_none(value: date | None) -> date | None:  # pragma: no cover - helper for typing
    return value
