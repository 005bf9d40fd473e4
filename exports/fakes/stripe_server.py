"""A Stripe API fake that follows the documented contract (docs.stripe.com/api), for tests and the demo.

Why not localstripe: it has no finalize, credit notes, idempotency keys or unit_amount_decimal
(see /work/shared/stack-notes.md). This fake implements the subset usagebill uses, over real HTTP
so the official `stripe` SDK is the client:

- form-encoded bodies with nested keys (``metadata[k]=v``, ``period[start]=..``, ``lines[0][amount]=..``);
- auth with ``Authorization: Bearer sk_test_...`` or HTTP basic (key as user); live keys are refused;
- errors as ``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes;
- customers, invoiceitems, invoices (draft -> open -> paid | void | uncollectible), credit notes,
  tax rates, events; search by metadata (``metadata['k']:'v'``); cursor pagination;
- Idempotency-Key: same key + same request replays the saved response (``Idempotent-Replayed: true``),
  same key + different request -> 400 ``idempotency_error``; keys kept 24 h (fake clock);
  like Stripe, a response is saved only once the endpoint started executing (not for 429/auth/fault);
- faults for tests under ``/_fake/``: fail the next N requests with 429/5xx (``mode: before`` = not
  executed; ``mode: after`` = executed and saved, but the client sees the error: a lost response;
  ``mode: saved`` = a 5xx saved under the request's Idempotency-Key and replayed for every retry with that
  key, as Stripe does: "results are saved ... including 500 errors",
  https://docs.stripe.com/api/idempotent_requests), a rate limit answering 429 like Stripe
  (https://docs.stripe.com/rate-limits: 25 requests/s in test mode; token bucket, burst = one second),
  a clock offset, reset, state dump, request log;
- customer invoice balance (https://docs.stripe.com/billing/customer/balance): balance transactions, applied
  to the next finalized invoice (amount_due = total + starting_balance); an invoice whose amount due is below
  Stripe's minimum charge is marked paid and its amount added to the balance (https://docs.stripe.com/api/invoices
  and https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); Stripe's currency rules
  (https://docs.stripe.com/currencies#special-cases: ISK amounts divisible by 100; three-decimal currencies
  charge only amounts ending in 0) from the table exports/stripe/currencies.py;
- send (send_invoice) and pay (charge_automatically) of finalized invoices;
- optional JSON state file so state survives a restart; optional signed webhook delivery.

Run standalone: ``python -m exports.fakes.stripe_server --port 12111 [--state-file F]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import json
import re
import threading
import time
import urllib.request
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from exports.local_servers import run_until_interrupted
from exports.stripe.currencies import StripeCurrencyError, stripe_currency
from exports.stripe.webhooks import signature_header

API_VERSION = "2026-10-28.endive"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
MAX_INVOICE_ITEMS = 250
# Test payment methods documented by Stripe (docs.stripe.com/testing) that decline.
DECLINING_PAYMENT_METHODS = {
    "pm_card_chargeDeclined",
    "pm_card_visa_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
}
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}


class StripeFakeError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.param = status, type_, message, code, param
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}


def invalid(
    message: str, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeFakeError:
    return StripeFakeError(status, "invalid_request_error", message, code=code, param=param)


def missing(resource: str, id_: str, param: str = "id") -> StripeFakeError:
    return invalid(f"No such {resource}: '{id_}'", param=param, code="resource_missing", status=404)


# ----------------------------------------------------------------------------- form decoding
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's form encoding (``a[b][0][c]=v``) into nested dicts; digit keys become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY_RE.match(key)
        if not m:
            raise invalid(f"Invalid parameter name: {key}", param=key)
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise invalid(f"Invalid parameter: {key}", param=key)
        last = parts[-1]
        if last == "":  # a[]=x style
            node.setdefault("__list__", []).append(value)
        else:
            node[last] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "__list__" in node and len(node) == 1:
        return [_listify(v) for v in node["__list__"]]
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def _int(params: dict[str, Any], name: str, required: bool = False, minimum: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {value}", param=name) from None
    if minimum is not None and result < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param=name)
    return result


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid(f"Invalid boolean: {value}", param=name)


def _metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    md = dict(current or {})
    given = params.get("metadata")
    if given is None:
        return md
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise invalid("Invalid metadata: must be an object", param="metadata")
    for k, v in given.items():
        if len(k) > 40 or len(str(v)) > 500:
            raise invalid("Metadata keys <= 40 chars, values <= 500 chars", param=f"metadata[{k}]")
        if v == "":
            md.pop(k, None)
        else:
            md[k] = str(v)
    if len(md) > 50:
        raise invalid("Metadata can have at most 50 keys", param="metadata")
    return md


def _search_query(query: str) -> list[tuple[str, str]]:
    """Parse the subset of Stripe's search query language we support: clauses `field:'v'` or
    `metadata['k']:'v'` joined with AND."""
    clauses = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        m = re.fullmatch(r"metadata\[['\"]([^'\"]+)['\"]\]:['\"]([^'\"]*)['\"]", clause.strip())
        if m:
            clauses.append((f"metadata.{m.group(1)}", m.group(2)))
            continue
        m = re.fullmatch(r"([a-z_]+):['\"]([^'\"]*)['\"]", clause.strip())
        if m:
            clauses.append((m.group(1), m.group(2)))
            continue
        raise invalid(
            f"Invalid search query: {query!r} (supported: metadata['k']:'v', field:'v', AND)", param="query"
        )
    return clauses


def _matches(obj: dict[str, Any], clauses: list[tuple[str, str]]) -> bool:
    for field, value in clauses:
        if field.startswith("metadata."):
            if obj.get("metadata", {}).get(field[len("metadata.") :]) != value:
                return False
        elif str(obj.get(field)) != value:
            return False
    return True


# Parameters each create/action endpoint accepts (docs.stripe.com/api); anything else is refused, as Stripe does.
ALLOWED_PARAMS: dict[str, set[str]] = {
    "customer": {"name", "email", "description", "metadata", "address", "preferred_locales", "phone"},
    "invoiceitem": {
        "customer",
        "amount",
        "currency",
        "description",
        "period",
        "metadata",
        "invoice",
        "quantity",
        "unit_amount_decimal",
        "tax_rates",
        "discountable",
        "price",
        "price_data",
        "pricing",
        "quantity_decimal",
        "discounts",
    },
    "invoice": {
        "customer",
        "currency",
        "auto_advance",
        "collection_method",
        "days_until_due",
        "due_date",
        "description",
        "footer",
        "metadata",
        "pending_invoice_items_behavior",
        "custom_fields",
    },
    "credit_note": {
        "invoice",
        "amount",
        "lines",
        "reason",
        "memo",
        "metadata",
        "refund_amount",
        "credit_amount",
        "out_of_band_amount",
    },
    "tax_rate": {
        "display_name",
        "percentage",
        "inclusive",
        "country",
        "state",
        "jurisdiction",
        "tax_type",
        "description",
        "metadata",
        "active",
    },
    "finalize": {"auto_advance"},
    "send": set(),
    "balance_transaction": {"amount", "currency", "description", "metadata"},
    "pay": {"paid_out_of_band", "payment_method"},
    "void": set(),
    "mark_uncollectible": set(),
}
CREDIT_NOTE_REASONS = {"duplicate", "fraudulent", "order_change", "product_unsatisfactory"}


def _check_currency_amount(currency: str, amount: int | None, param: str) -> None:
    """Stripe's per-currency amount rules (https://docs.stripe.com/currencies#special-cases)."""
    try:
        cur = stripe_currency(currency)
    except StripeCurrencyError:
        raise invalid(f"Invalid currency: {currency}", param="currency") from None
    if amount is not None and cur.currency == "ISK" and amount % 100:
        raise invalid(
            f"ISK amounts must be divisible by 100 (ISK is zero-decimal but two-decimal in the API): {amount}",
            param=param,
            code="amount_invalid",
        )


def check_params(endpoint: str, params: dict[str, Any]) -> None:
    unknown = sorted(set(params) - ALLOWED_PARAMS[endpoint] - {"expand"})
    if unknown:
        raise invalid(f"Received unknown parameter: {unknown[0]}", param=unknown[0], code="parameter_unknown")


# ----------------------------------------------------------------------------- the state machine
class FakeStripe:
    """All state of the fake; thread-safe through one lock. Object snapshots are plain dicts."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.state_file = state_file
        self.faults: list[dict[str, Any]] = []
        self.rate_limit_per_second: int | None = None
        self._window: dict[str, tuple[int, int]] = {}
        self.requests: list[dict[str, Any]] = []
        self.webhook: dict[str, str] | None = None
        self.reset()
        if state_file and state_file.exists():
            self.__dict__.update(json.loads(state_file.read_text())["state"])

    # -- state
    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict[str, dict[str, Any]]] = {
                "customer": {},
                "invoiceitem": {},
                "invoice": {},
                "credit_note": {},
                "tax_rate": {},
                "balance_transaction": {},
            }
            self.events: list[dict[str, Any]] = []
            self.idempotency: dict[str, dict[str, Any]] = {}
            self.counter = 0
            self.clock_offset = 0
            self.invoice_sequence: dict[str, int] = {}
            self.faults = []
            self.rate_limit_per_second = None
            self.requests = []

    def _persisted(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("objects", "events", "idempotency", "counter", "clock_offset", "invoice_sequence")
        }

    def save(self) -> None:
        """Mark the state changed. Writing the whole state on every request would make a run of N
        requests cost O(N^2); it is written at most once a second and on shutdown (flush)."""
        if self.state_file:
            with self.lock:
                self._dirty = True
                if time.monotonic() - getattr(self, "_saved_at", 0.0) >= 1.0:
                    self.flush()

    def flush(self) -> None:
        with self.lock:
            if self.state_file and getattr(self, "_dirty", False):
                tmp = self.state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({"state": self._persisted()}))
                tmp.replace(self.state_file)
                self._dirty = False
                self._saved_at = time.monotonic()

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        digest = hashlib.sha1(f"{prefix}{self.counter}".encode()).hexdigest()[:10]
        return f"{prefix}_{self.counter:06d}{digest}"

    def new_object(
        self, kind: str, prefix: str, fields: dict[str, Any], created: int | None = None
    ) -> dict[str, Any]:
        """A new API object: every Stripe object has id, object, created and livemode
        (https://docs.stripe.com/api/customers/object and the other object references)."""
        created = self.now() if created is None else created
        return {"id": self.new_id(prefix), "object": kind, "created": created, **fields, "livemode": False}

    def add(
        self, table: str, obj: dict[str, Any], event: str, payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Keep a new object in `table` and emit `event` (about `payload`, by default the object)."""
        self.objects[table][obj["id"]] = obj
        self.emit(event, obj if payload is None else payload)
        return obj

    def emit(self, type_: str, obj: dict[str, Any], request: dict[str, Any] | None = None) -> None:
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        if self.webhook:
            threading.Thread(target=self._deliver, args=(event, dict(self.webhook)), daemon=True).start()

    def _deliver(self, event: dict[str, Any], hook: dict[str, str]) -> None:
        payload = json.dumps(event).encode()
        # signed as Stripe does (https://docs.stripe.com/webhooks#verify-manually); the receiver checks it
        # with the official SDK's stripe.WebhookSignature.verify_header
        signature = signature_header(payload, hook["secret"])
        req = urllib.request.Request(
            hook["url"],
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )
        # Stripe retries deliveries for days; here the polling fallback covers a missed delivery.
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=5).read()

    def get(self, kind: str, id_: str, resource: str) -> dict[str, Any]:
        obj = self.objects[kind].get(id_)
        if obj is None:
            raise missing(resource, id_)
        return obj

    # -- listing helpers
    def page(self, items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        limit = _int(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise invalid("limit must be between 1 and 100", param="limit")
        items = sorted(items, key=lambda o: (o.get("created", 0), o["id"]), reverse=True)
        if params.get("starting_after"):
            ids = [o["id"] for o in items]
            if params["starting_after"] not in ids:
                raise missing("object", params["starting_after"], "starting_after")
            items = items[ids.index(params["starting_after"]) + 1 :]
        elif params.get("ending_before"):
            ids = [o["id"] for o in items]
            if params["ending_before"] not in ids:
                raise missing("object", params["ending_before"], "ending_before")
            items = items[: ids.index(params["ending_before"])][-limit:]
            return {"object": "list", "data": copy.deepcopy(items), "has_more": False, "url": url}
        return {
            "object": "list",
            "data": copy.deepcopy(items[:limit]),
            "has_more": len(items) > limit,
            "url": url,
        }

    def search(self, kind: str, params: dict[str, Any], url: str) -> dict[str, Any]:
        if not params.get("query"):
            raise invalid("Missing required param: query.", param="query", code="parameter_missing")
        clauses = _search_query(params["query"])
        found = [o for o in self.objects[kind].values() if _matches(o, clauses)]
        found.sort(key=lambda o: (o["created"], o["id"]), reverse=True)
        limit = _int(params, "limit") or 10
        start = int(params.get("page") or 0)
        chunk = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "object": "search_result",
            "data": copy.deepcopy(chunk),
            "has_more": more,
            "next_page": str(start + limit) if more else None,
            "url": url,
        }

    # -- customers
    def create_customer(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self.new_id("cus")
        obj = {
            "id": cid,
            "object": "customer",
            "created": self.now(),
            "name": p.get("name"),
            "email": p.get("email"),
            "description": p.get("description"),
            "metadata": _metadata(p),
            "currency": None,
            "balance": 0,
            "livemode": False,
            "invoice_prefix": hashlib.sha1(cid.encode()).hexdigest()[:8].upper(),
            "preferred_locales": p.get("preferred_locales") or [],
        }
        return self.add("customer", obj, "customer.created")

    # -- tax rates
    def create_tax_rate(self, p: dict[str, Any]) -> dict[str, Any]:
        for name in ("display_name", "percentage", "inclusive"):
            if p.get(name) in (None, ""):
                raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        try:
            pct = Decimal(p["percentage"])
        except InvalidOperation:
            raise invalid("Invalid decimal: percentage", param="percentage") from None
        if not Decimal(0) <= pct <= Decimal(100):
            raise invalid("percentage must be between 0 and 100", param="percentage")
        obj = {
            "active": _bool(p, "active", True),
            "display_name": p["display_name"],
            "percentage": str(pct),
            "inclusive": _bool(p, "inclusive", False),
            "country": p.get("country"),
            "state": p.get("state"),
            "jurisdiction": p.get("jurisdiction"),
            "tax_type": p.get("tax_type"),
            "description": p.get("description"),
            "metadata": _metadata(p),
        }
        return self.add("tax_rate", self.new_object("tax_rate", "txr", obj), "tax_rate.created")

    def update_tax_rate(self, id_: str, p: dict[str, Any]) -> dict[str, Any]:
        obj = self.get("tax_rate", id_, "tax_rate")
        for frozen in ("percentage", "inclusive"):
            if frozen in p:
                raise invalid(
                    f"Received unknown parameter: {frozen} (a tax rate's {frozen} cannot be changed; "
                    f"create a new tax rate)",
                    param=frozen,
                )
        for name in ("display_name", "country", "state", "jurisdiction", "tax_type", "description"):
            if name in p:
                obj[name] = p[name]
        if "active" in p:
            obj["active"] = _bool(p, "active", True)
        obj["metadata"] = _metadata(p, obj["metadata"])
        self.emit("tax_rate.updated", obj)
        return obj

    # -- invoice items
    def create_invoiceitem(self, p: dict[str, Any]) -> dict[str, Any]:
        customer_id = p.get("customer")
        if not customer_id:
            raise invalid("Missing required param: customer.", param="customer", code="parameter_missing")
        customer = self.get("customer", customer_id, "customer")
        for unsupported in ("price", "price_data", "pricing", "quantity_decimal", "discounts"):
            if p.get(unsupported) not in (None, ""):
                raise invalid(
                    f"The fake does not implement {unsupported}; use amount or unit_amount_decimal",
                    param=unsupported,
                )
        quantity = _int(p, "quantity", minimum=0)
        has_amount = p.get("amount") not in (None, "")
        has_decimal = p.get("unit_amount_decimal") not in (None, "")
        if has_amount == has_decimal:
            raise invalid("You must specify exactly one of amount or unit_amount_decimal", param="amount")
        currency = (p.get("currency") or customer.get("currency") or "").lower()
        if not currency:
            raise invalid("Missing required param: currency.", param="currency", code="parameter_missing")
        if has_amount:
            amount = _int(p, "amount")
            if quantity not in (None, 1):
                raise invalid(
                    "quantity cannot be used with amount; use unit_amount_decimal", param="quantity"
                )
            quantity, unit = 1, Decimal(amount)
        else:
            raw = str(p["unit_amount_decimal"])
            if not re.fullmatch(r"-?\d+(\.\d{1,12})?", raw):
                raise invalid(
                    "Invalid decimal: unit_amount_decimal must have at most 12 decimal places",
                    param="unit_amount_decimal",
                )
            unit = Decimal(raw)
            quantity = 1 if quantity is None else quantity
            # Stripe rounds quantity x unit_amount_decimal to the minor unit; the fake rounds half-up.
            amount = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        _check_currency_amount(currency, amount, "amount")
        period = p.get("period") or {}
        now = self.now()
        start = _int(period, "start") if period else None
        end = _int(period, "end") if period else None
        if start is not None and end is not None and end < start:
            raise invalid("period[end] must be on or after period[start]", param="period[end]")
        tax_rates = p.get("tax_rates") or []
        for tr in tax_rates:
            self.get("tax_rate", tr, "tax_rate")
        invoice_id = p.get("invoice") or None
        if invoice_id:
            inv = self.get("invoice", invoice_id, "invoice")
            if inv["status"] != "draft":
                raise invalid(
                    f"You can only add invoice items to draft invoices; {invoice_id} is {inv['status']}",
                    param="invoice",
                    code="invoice_not_editable",
                )
            if inv["customer"] != customer_id:
                raise invalid("The invoice belongs to another customer", param="invoice")
            if inv["currency"] != currency:
                raise invalid(
                    f"Currency {currency} does not match the invoice currency {inv['currency']}",
                    param="currency",
                )
            if len(inv["lines"]["data"]) >= MAX_INVOICE_ITEMS:
                raise invalid(
                    f"An invoice can have at most {MAX_INVOICE_ITEMS} invoice items", param="invoice"
                )
        obj = {
            "id": self.new_id("ii"),
            "object": "invoiceitem",
            "created": now,
            "date": now,
            "customer": customer_id,
            "currency": currency,
            "amount": amount,
            "quantity": quantity,
            "unit_amount_decimal": str(unit),
            "description": p.get("description"),
            "period": {"start": start if start is not None else now, "end": end if end is not None else now},
            "metadata": _metadata(p),
            "invoice": invoice_id,
            "tax_rates": tax_rates,
            "livemode": False,
            "proration": False,
            "discountable": _bool(p, "discountable", True),
        }
        self.objects["invoiceitem"][obj["id"]] = obj
        if invoice_id:
            self._attach(self.objects["invoice"][invoice_id], obj)
        self.emit("invoiceitem.created", obj)
        return obj

    def _attach(self, inv: dict[str, Any], item: dict[str, Any]) -> None:
        item["invoice"] = inv["id"]
        inv["lines"]["data"].append(
            {
                "id": self.new_id("il"),
                "object": "line_item",
                "amount": item["amount"],
                "currency": item["currency"],
                "description": item["description"],
                "metadata": dict(item["metadata"]),
                "period": dict(item["period"]),
                "quantity": item["quantity"],
                "invoice": inv["id"],
                "tax_rates": list(item["tax_rates"]),
                "pricing": {"type": "invoice_item", "unit_amount_decimal": item["unit_amount_decimal"]},
                "parent": {
                    "type": "invoice_item_details",
                    "invoice_item_details": {"invoice_item": item["id"]},
                },
            }
        )
        self._recompute(inv)

    def _recompute(self, inv: dict[str, Any]) -> None:
        subtotal = sum(line["amount"] for line in inv["lines"]["data"])
        tax = 0
        inclusive_tax = 0
        for line in inv["lines"]["data"]:
            for tr_id in line.get("tax_rates", []):
                tr = self.objects["tax_rate"][tr_id]
                pct = Decimal(tr["percentage"]) / 100
                if tr["inclusive"]:
                    part = Decimal(line["amount"]) - Decimal(line["amount"]) / (1 + pct)
                    inclusive_tax += int(part.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                else:
                    tax += int((Decimal(line["amount"]) * pct).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        total = subtotal + tax
        inv["lines"]["total_count"] = len(inv["lines"]["data"])
        inv.update(
            subtotal=subtotal,
            total=total,
            total_excluding_tax=total - tax - inclusive_tax,
            total_taxes=[{"amount": tax + inclusive_tax}] if (tax or inclusive_tax) else [],
        )
        paid = inv["amount_paid"]
        pre = inv["pre_payment_credit_notes_amount"]
        # the customer balance applied at finalization (negative = credit, positive = carried debit)
        applied = inv.get("starting_balance", 0) - inv.get("ending_balance", 0)
        inv["amount_due"] = max(total + applied - pre, 0)
        inv["amount_remaining"] = max(inv["amount_due"] - paid, 0)
        if inv["lines"]["data"]:
            inv["period_start"] = min(line["period"]["start"] for line in inv["lines"]["data"])
            inv["period_end"] = max(line["period"]["end"] for line in inv["lines"]["data"])

    # -- invoices
    def create_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        customer_id = p.get("customer")
        if not customer_id:
            raise invalid("Missing required param: customer.", param="customer", code="parameter_missing")
        customer = self.get("customer", customer_id, "customer")
        behavior = p.get("pending_invoice_items_behavior", "exclude")
        if behavior not in ("include", "exclude"):
            raise invalid(
                "pending_invoice_items_behavior must be include or exclude",
                param="pending_invoice_items_behavior",
            )
        method = p.get("collection_method", "charge_automatically")
        if method not in ("charge_automatically", "send_invoice"):
            raise invalid("Invalid collection_method", param="collection_method")
        days = _int(p, "days_until_due", minimum=0)
        due_date = _int(p, "due_date")
        if method == "send_invoice" and days is None and due_date is None:
            raise invalid(
                "Missing required param: days_until_due or due_date when collection_method is send_invoice",
                param="days_until_due",
                code="parameter_missing",
            )
        if method == "charge_automatically" and (days is not None or due_date is not None):
            raise invalid(
                "days_until_due/due_date can only be set when collection_method is send_invoice",
                param="days_until_due",
            )
        currency = (p.get("currency") or customer.get("currency") or "usd").lower()
        now = self.now()
        inv: dict[str, Any] = {
            "id": self.new_id("in"),
            "object": "invoice",
            "created": now,
            "customer": customer_id,
            "currency": currency,
            "status": "draft",
            "number": None,
            "auto_advance": _bool(p, "auto_advance", False),
            "collection_method": method,
            "days_until_due": days,
            "due_date": due_date,
            "description": p.get("description"),
            "footer": p.get("footer"),
            "metadata": _metadata(p),
            "lines": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""},
            "subtotal": 0,
            "total": 0,
            "total_excluding_tax": 0,
            "total_taxes": [],
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "attempt_count": 0,
            "attempted": False,
            "pre_payment_credit_notes_amount": 0,
            "post_payment_credit_notes_amount": 0,
            "period_start": now,
            "period_end": now,
            "livemode": False,
            "paid_out_of_band": False,
            "status_transitions": {
                "finalized_at": None,
                "paid_at": None,
                "voided_at": None,
                "marked_uncollectible_at": None,
            },
            "last_finalization_error": None,
        }
        inv["lines"]["url"] = f"/v1/invoices/{inv['id']}/lines"
        self.objects["invoice"][inv["id"]] = inv
        if behavior == "include":
            for item in sorted(self.objects["invoiceitem"].values(), key=lambda o: o["created"]):
                if (
                    item["customer"] == customer_id
                    and item["invoice"] is None
                    and item["currency"] == currency
                ):
                    self._attach(inv, item)
        self._recompute(inv)
        self.emit("invoice.created", inv)
        return inv

    def _transition(self, inv: dict[str, Any], allowed: tuple[str, ...], action: str) -> None:
        if inv["status"] not in allowed:
            raise invalid(
                f"You can only {action} an invoice with status {' or '.join(allowed)}; "
                f"{inv['id']} is {inv['status']}",
                code="invoice_unexpected_status",
            )

    def finalize(self, id_: str, p: dict[str, Any]) -> dict[str, Any]:
        inv = self.get("invoice", id_, "invoice")
        self._transition(inv, ("draft",), "finalize")
        customer = self.objects["customer"][inv["customer"]]
        seq = self.invoice_sequence.get(customer["id"], 0) + 1
        self.invoice_sequence[customer["id"]] = seq
        inv["number"] = f"{customer['invoice_prefix']}-{seq:04d}"
        inv["status"] = "open"
        if "auto_advance" in p:
            inv["auto_advance"] = _bool(p, "auto_advance", False)
        now = self.now()
        inv["status_transitions"]["finalized_at"] = now
        if inv["collection_method"] == "send_invoice" and inv["due_date"] is None:
            inv["due_date"] = now + 86400 * (inv["days_until_due"] or 0)
        for line in inv["lines"]["data"]:
            item_id = line["parent"]["invoice_item_details"]["invoice_item"]
            self.objects["invoiceitem"][item_id]["invoice"] = inv["id"]
        # The customer's invoice balance applies to the next finalized invoice, after tax
        # (https://docs.stripe.com/billing/customer/balance): a credit (< 0) at most up to the total.
        balance = customer.get("balance", 0)
        applied = max(balance, -inv["total"]) if balance < 0 else balance
        inv["starting_balance"] = balance
        inv["ending_balance"] = balance - applied
        customer["balance"] = balance - applied
        self._recompute(inv)
        try:
            cur = stripe_currency(inv["currency"])
        except StripeCurrencyError:
            raise invalid(f"Invalid currency: {inv['currency']}", param="currency") from None
        if inv["amount_due"] % cur.charge_multiple:
            raise invalid(
                f"Amount due {inv['amount_due']} {inv['currency']} must be a multiple of {cur.charge_multiple} "
                f"({cur.rule}; https://docs.stripe.com/currencies)",
                code="amount_invalid",
            )
        self.emit("invoice.finalized", inv)
        if inv["amount_due"] == 0:  # Stripe marks zero-amount invoices paid on finalization
            self._mark_paid(inv, out_of_band=False)
        elif cur.minimum_charge_minor and inv["amount_due"] < cur.minimum_charge_minor:
            # below the minimum charge: marked paid, the amount due added to the customer's balance
            # (https://docs.stripe.com/api/invoices; balance transaction type invoice_too_small)
            carried = inv["amount_due"]
            self._balance_transaction(
                customer,
                carried,
                inv["currency"],
                "invoice_too_small",
                f"Invoice {inv['number']} below minimum",
            )
            inv["amount_remaining"] = 0
            inv["status"] = "paid"
            inv["status_transitions"]["paid_at"] = self.now()
            self.emit("invoice.paid", inv)
        return inv

    def _balance_transaction(
        self,
        customer: dict[str, Any],
        amount: int,
        currency: str,
        type_: str,
        description: str | None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        start = customer.get("balance", 0)
        customer["balance"] = start + amount
        tx = {
            "customer": customer["id"],
            "amount": amount,
            "currency": currency,
            "description": description,
            "ending_balance": customer["balance"],
            "type": type_,
            "metadata": metadata or {},
        }
        tx = self.new_object("customer_balance_transaction", "cbtxn", tx)
        return self.add("balance_transaction", tx, "customer.updated", customer)

    def create_balance_transaction(self, customer_id: str, p: dict[str, Any]) -> dict[str, Any]:
        customer = self.get("customer", customer_id, "customer")
        amount = _int(p, "amount", required=True)
        currency = (p.get("currency") or "").lower()
        if not currency:
            raise invalid("Missing required param: currency.", param="currency", code="parameter_missing")
        if customer.get("currency") and customer["currency"] != currency:
            raise invalid(f"Customer currency is {customer['currency']}", param="currency")
        customer["currency"] = currency
        return self._balance_transaction(
            customer, int(amount or 0), currency, "adjustment", p.get("description"), _metadata(p)
        )

    def send(self, id_: str) -> dict[str, Any]:
        inv = self.get("invoice", id_, "invoice")
        self._transition(inv, ("open",), "send")
        if inv["collection_method"] != "send_invoice":
            raise invalid(
                "You can only manually send an invoice if its collection method is 'send_invoice'.",
                code="invoice_not_editable",
            )
        inv["_sent_count"] = inv.get("_sent_count", 0) + 1
        self.emit("invoice.sent", inv)
        return inv

    def _mark_paid(self, inv: dict[str, Any], out_of_band: bool) -> None:
        inv["amount_paid"] += inv["amount_remaining"]
        inv["amount_remaining"] = 0
        inv["status"] = "paid"
        inv["paid_out_of_band"] = out_of_band
        inv["status_transitions"]["paid_at"] = self.now()
        self.emit("invoice.paid", inv)
        if not out_of_band:
            self.emit("invoice.payment_succeeded", inv)

    def pay(self, id_: str, p: dict[str, Any]) -> dict[str, Any]:
        inv = self.get("invoice", id_, "invoice")
        self._transition(inv, ("open", "uncollectible"), "pay")
        inv["_pay_calls"] = inv.get("_pay_calls", 0) + 1
        if _bool(p, "paid_out_of_band", False):
            self._mark_paid(inv, out_of_band=True)
            return inv
        customer = self.objects["customer"][inv["customer"]]
        pm = p.get("payment_method") or customer["metadata"].get("fake_payment_method")
        inv["attempt_count"] += 1
        inv["attempted"] = True
        if pm in DECLINING_PAYMENT_METHODS or customer["metadata"].get("fake_payment") == "fail":
            inv["next_payment_attempt"] = self.now() + 3 * 86400
            self.emit("invoice.payment_failed", inv)
            raise StripeFakeError(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                extra={"decline_code": "generic_decline", "invoice": inv["id"]},
            )
        inv["next_payment_attempt"] = None
        self._mark_paid(inv, out_of_band=False)
        return inv

    def _close(
        self, id_: str, allowed: tuple[str, ...], status: str, stamp: str, event: str
    ) -> dict[str, Any]:
        """Move an invoice to a final status, stamping status_transitions.<stamp>, and emit `event`
        (https://docs.stripe.com/invoicing/overview#invoice-statuses)."""
        inv = self.get("invoice", id_, "invoice")
        self._transition(inv, allowed, "mark uncollectible" if status == "uncollectible" else status)
        inv["status"] = status
        inv["status_transitions"][stamp] = self.now()
        self.emit(event, inv)
        return inv

    def void(self, id_: str) -> dict[str, Any]:
        return self._close(id_, ("open", "uncollectible"), "void", "voided_at", "invoice.voided")

    def mark_uncollectible(self, id_: str) -> dict[str, Any]:
        stamp, event = "marked_uncollectible_at", "invoice.marked_uncollectible"
        return self._close(id_, ("open",), "uncollectible", stamp, event)

    def delete_invoice(self, id_: str) -> dict[str, Any]:
        inv = self.get("invoice", id_, "invoice")
        self._transition(inv, ("draft",), "delete")
        del self.objects["invoice"][id_]
        for line in inv["lines"]["data"]:
            self.objects["invoiceitem"].pop(line["parent"]["invoice_item_details"]["invoice_item"], None)
        self.emit("invoice.deleted", inv)
        return {"id": id_, "object": "invoice", "deleted": True}

    # -- credit notes
    def create_credit_note(self, p: dict[str, Any]) -> dict[str, Any]:
        inv_id = p.get("invoice")
        if not inv_id:
            raise invalid("Missing required param: invoice.", param="invoice", code="parameter_missing")
        inv = self.get("invoice", inv_id, "invoice")
        if inv["status"] not in ("open", "paid"):
            raise invalid(
                f"A credit note can only be issued for an open or paid invoice; {inv_id} is {inv['status']}",
                param="invoice",
                code="invoice_unexpected_status",
            )
        if p.get("reason") and p["reason"] not in CREDIT_NOTE_REASONS:
            raise invalid(f"Invalid reason: must be one of {sorted(CREDIT_NOTE_REASONS)}", param="reason")
        lines_in = p.get("lines") or []
        amount = _int(p, "amount", minimum=1)
        lines = []
        line_sum = 0
        for i, ln in enumerate(lines_in):
            kind = ln.get("type")
            if kind == "custom_line_item":
                qty = _int(ln, "quantity") or 1
                unit = _int(ln, "unit_amount", required=True, minimum=0)
                value = qty * unit
            elif kind == "invoice_line_item":
                if not any(x["id"] == ln.get("invoice_line") for x in inv["lines"]["data"]):
                    raise missing("invoice line", str(ln.get("invoice_line")), f"lines[{i}][invoice_line]")
                value = _int(ln, "amount", required=True, minimum=0)
            else:
                raise invalid(
                    "lines[][type] must be custom_line_item or invoice_line_item", param=f"lines[{i}][type]"
                )
            line_sum += value
            lines.append(
                {
                    "id": self.new_id("cnli"),
                    "object": "credit_note_line_item",
                    "type": kind,
                    "amount": value,
                    "description": ln.get("description"),
                }
            )
        if amount is None and not lines:
            raise invalid("One of amount or lines must be provided", param="amount", code="parameter_missing")
        if amount is not None and lines and amount != line_sum:
            raise invalid(f"amount {amount} does not equal the sum of lines {line_sum}", param="amount")
        total = amount if amount is not None else line_sum
        already = sum(
            cn["total"]
            for cn in self.objects["credit_note"].values()
            if cn["invoice"] == inv_id and cn["status"] != "void"
        )
        if total + already > inv["total"]:
            raise invalid(
                f"The credit note total {total} plus earlier credit notes {already} exceeds the "
                f"invoice total {inv['total']}",
                param="amount",
                code="credit_note_exceeds_invoice",
            )
        pre = min(total, inv["amount_remaining"]) if inv["status"] == "open" else 0
        post = total - pre
        refund = _int(p, "refund_amount", minimum=0) or 0
        credit = _int(p, "credit_amount", minimum=0) or 0
        oob = _int(p, "out_of_band_amount", minimum=0) or 0
        if refund + credit + oob != post:
            raise invalid(
                f"The sum of refund_amount ({refund}), credit_amount ({credit}) and out_of_band_amount "
                f"({oob}) must equal the post-payment amount {post}",
                param="out_of_band_amount",
            )
        customer = self.objects["customer"][inv["customer"]]
        n = sum(1 for cn in self.objects["credit_note"].values() if cn["invoice"] == inv_id) + 1
        cn = {
            "invoice": inv_id,
            "customer": inv["customer"],
            "currency": inv["currency"],
            "amount": total,
            "total": total,
            "subtotal": total,
            "pre_payment_amount": pre,
            "post_payment_amount": post,
            "refund_amount": refund,
            "credit_amount": credit,
            "out_of_band_amount": oob,
            "reason": p.get("reason"),
            "memo": p.get("memo"),
            "metadata": _metadata(p),
            "status": "issued",
            "type": "pre_payment" if post == 0 else "post_payment",
            "number": f"{inv['number']}-CN-{n:02d}",
            "lines": {"object": "list", "data": lines, "has_more": False},
        }
        cn = self.new_object("credit_note", "cn", cn)
        if credit:
            customer["balance"] -= credit
        self.objects["credit_note"][cn["id"]] = cn
        inv["pre_payment_credit_notes_amount"] += pre
        inv["post_payment_credit_notes_amount"] += post
        self._recompute(inv)
        self.emit("credit_note.created", cn)
        self.emit("invoice.updated", inv)
        if inv["status"] == "open" and inv["amount_remaining"] == 0:
            self._mark_paid(inv, out_of_band=False)
        return cn

    # -- dispatch
    def handle(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        url = path
        parts = [x for x in path.split("/") if x]
        if not parts or parts[0] != "v1":
            raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)
        parts = parts[1:]
        routes = {
            "customers": "customer",
            "invoiceitems": "invoiceitem",
            "invoices": "invoice",
            "credit_notes": "credit_note",
            "tax_rates": "tax_rate",
        }
        if not parts:
            raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)
        res = parts[0]
        if res == "events":
            if method != "GET":
                raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)
            if len(parts) == 2:
                found = [e for e in self.events if e["id"] == parts[1]]
                if not found:
                    raise missing("event", parts[1])
                return 200, found[0]
            events = self.events
            types = params.get("types") or ([params["type"]] if params.get("type") else None)
            if types:
                events = [
                    e
                    for e in events
                    if any(
                        e["type"] == t or (t.endswith(".*") and e["type"].startswith(t[:-1])) for t in types
                    )
                ]
            created = params.get("created")
            if isinstance(created, dict):
                for op, fn in (
                    ("gte", int.__ge__),
                    ("gt", int.__gt__),
                    ("lte", int.__le__),
                    ("lt", int.__lt__),
                ):
                    if op in created:
                        events = [e for e in events if fn(e["created"], int(created[op]))]
            # events share `created` seconds: order by creation sequence (ids embed a counter)
            ordered = sorted(events, key=lambda e: e["id"], reverse=True)
            return 200, self._page_ordered(ordered, params, url)
        if res not in routes:
            raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)
        kind = routes[res]
        if len(parts) == 1:
            if method == "POST":
                check_params(kind, params)
                creator = {
                    "customer": self.create_customer,
                    "invoiceitem": self.create_invoiceitem,
                    "invoice": self.create_invoice,
                    "credit_note": self.create_credit_note,
                    "tax_rate": self.create_tax_rate,
                }[kind]
                return 200, creator(params)
            items = list(self.objects[kind].values())
            for f in ("customer", "invoice", "status", "email"):
                if params.get(f):
                    items = [o for o in items if o.get(f) == params[f]]
            if kind == "invoiceitem" and params.get("pending") is not None:
                want = _bool(params, "pending", False)
                items = [o for o in items if (o["invoice"] is None) == want]
            return 200, self.page(items, params, url)
        if parts[1] == "search" and len(parts) == 2:
            if kind not in ("customer", "invoice"):
                raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)
            return 200, self.search(kind, params, url)
        obj_id = parts[1]
        if len(parts) == 2:
            if method == "GET":
                return 200, self.get(kind, obj_id, kind)
            if method == "DELETE" and kind == "invoice":
                return 200, self.delete_invoice(obj_id)
            if method == "POST" and kind == "tax_rate":
                return 200, self.update_tax_rate(obj_id, params)
            if method == "POST" and kind in ("customer", "invoice"):
                obj = self.get(kind, obj_id, kind)
                if (
                    kind == "invoice"
                    and obj["status"] != "draft"
                    and set(params) - {"metadata", "description"}
                ):
                    raise invalid(
                        "Only metadata can be updated on a finalized invoice", code="invoice_not_editable"
                    )
                obj["metadata"] = _metadata(params, obj["metadata"])
                for f in ("name", "email", "description"):
                    if f in params:
                        obj[f] = params[f]
                self.emit(f"{kind}.updated", obj)
                return 200, obj
        if kind == "customer" and len(parts) == 3 and parts[2] == "balance_transactions":
            if method == "POST":
                check_params("balance_transaction", params)
                return 200, self.create_balance_transaction(obj_id, params)
            self.get("customer", obj_id, "customer")
            txs = [t for t in self.objects["balance_transaction"].values() if t["customer"] == obj_id]
            return 200, self.page(txs, params, path)
        if kind == "invoice" and len(parts) == 3:
            action = parts[2]
            if action == "lines" and method == "GET":
                inv = self.get("invoice", obj_id, "invoice")
                return 200, self._page_ordered(
                    list(inv["lines"]["data"]), params, f"/v1/invoices/{obj_id}/lines"
                )
            if method == "POST" and action in ALLOWED_PARAMS:
                check_params(action, params)
                if action == "finalize":
                    return 200, self.finalize(obj_id, params)
                if action == "send":
                    return 200, self.send(obj_id)
                if action == "pay":
                    return 200, self.pay(obj_id, params)
                if action == "void":
                    return 200, self.void(obj_id)
                if action == "mark_uncollectible":
                    return 200, self.mark_uncollectible(obj_id)
        raise invalid(f"Unrecognized request URL ({method}: {path}).", status=404)

    def _page_ordered(self, items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        """Cursor pagination over an already ordered list (events newest first, lines in order)."""
        limit = _int(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise invalid("limit must be between 1 and 100", param="limit")
        ids = [o["id"] for o in items]
        if params.get("starting_after"):
            if params["starting_after"] not in ids:
                raise missing("object", params["starting_after"], "starting_after")
            items = items[ids.index(params["starting_after"]) + 1 :]
        elif params.get("ending_before"):
            if params["ending_before"] not in ids:
                raise missing("object", params["ending_before"], "ending_before")
            before = items[: ids.index(params["ending_before"])]
            return {
                "object": "list",
                "data": [_public(o) for o in before[-limit:]],
                "has_more": len(before) > limit,
                "url": url,
            }
        return {
            "object": "list",
            "data": [_public(o) for o in items[:limit]],
            "has_more": len(items) > limit,
            "url": url,
        }


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


# ----------------------------------------------------------------------------- HTTP layer
class _KeyedRequest(NamedTuple):
    """A POST sent with an Idempotency-Key (https://docs.stripe.com/api/idempotent_requests)."""

    api_key: str
    key: str
    method: str
    path: str
    pairs: list[tuple[str, str]]

    def scope(self) -> tuple[str, str]:
        """Where its result is saved (per API key and Idempotency-Key) and the fingerprint of the
        request: a reuse of the key with other parameters is an idempotency_error."""
        scope = hashlib.sha256(f"{self.api_key}\0{self.key}".encode()).hexdigest()
        fingerprint = hashlib.sha256(
            json.dumps([self.method, self.path, sorted(self.pairs)]).encode()
        ).hexdigest()
        return scope, fingerprint


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:14]}")
        self.send_header("Stripe-Version", API_VERSION)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if split.path.startswith("/_fake/"):
            self._control(method, split.path, raw)
            return
        fake = self.server.fake
        key_header = self.headers.get("Idempotency-Key")
        entry = {"method": method, "path": split.path, "idempotency_key": key_header, "at": time.time()}
        try:
            api_key = self._api_key()
            pairs = parse_qsl(split.query, keep_blank_values=True)
            if method == "POST":
                ctype = self.headers.get("Content-Type", "")
                if raw and "application/x-www-form-urlencoded" not in ctype:
                    raise invalid("Content-Type must be application/x-www-form-urlencoded")
                pairs += parse_qsl(raw.decode(), keep_blank_values=True)
            params = decode_form(pairs)
            keyed = _KeyedRequest(api_key, key_header or "", method, split.path, pairs)
            with fake.lock:
                fake.requests.append(entry)
                self._rate_limit(api_key)
                fault = self._take_fault(method, split.path)
                if fault and fault.get("mode", "before") == "before":
                    raise self._fault_error(fault)
                if fault and fault["mode"] == "saved":
                    err = self._fault_error(fault)
                    if key_header and method == "POST":
                        self._save_result(keyed, err.status, err.body())
                    raise err
                if key_header and method == "POST":
                    status, body, replayed = self._idempotent(keyed, params)
                else:
                    status, body, replayed = self._execute(method, split.path, params) + (False,)
                fake.save()
            entry["status"] = status if not fault else fault["status"]
            if fault:  # mode "after": executed (and saved for replay) but the client sees the error
                err = self._fault_error(fault)
                self._send(err.status, err.body())
                return
            self._send(status, body, {"Idempotent-Replayed": "true"} if replayed else None)
        except StripeFakeError as e:
            entry["status"] = e.status
            headers = {"Retry-After": "1", "Stripe-Should-Retry": "true"} if e.status == 429 else {}
            self._send(e.status, e.body(), headers)

    def _api_key(self) -> str:
        auth = self.headers.get("Authorization", "")
        key = ""
        if auth.startswith("Bearer "):
            key = auth[len("Bearer ") :].strip()
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[len("Basic ") :]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise StripeFakeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. Provide it as 'Authorization: Bearer sk_test_...'.",
            )
        if not (key.startswith("sk_test_") or key.startswith("rk_test_")):
            shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            raise StripeFakeError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {shown} (this fake accepts test keys sk_test_... only)",
            )
        return key

    def _rate_limit(self, api_key: str) -> None:
        """Token bucket per API key: `per_second` tokens a second, burst of one second's worth. An empty bucket
        answers 429 `rate_limit` with Retry-After (https://docs.stripe.com/rate-limits)."""
        fake = self.server.fake
        limit = fake.rate_limit_per_second
        if not limit:
            return
        now = time.monotonic()
        tokens, at = fake._window.get(api_key, (float(limit), now))
        tokens = min(float(limit), tokens + (now - at) * float(limit))
        if tokens < 1.0:
            fake._window[api_key] = (tokens, now)
            fake.rate_limited = getattr(fake, "rate_limited", 0) + 1
            raise StripeFakeError(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about "
                "rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        fake._window[api_key] = (tokens - 1.0, now)

    def _take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        fake = self.server.fake
        for fault in fake.faults:
            if fault.get("method") and fault["method"] != method:
                continue
            if fault.get("path_prefix") and not path.startswith(fault["path_prefix"]):
                continue
            if fault.get("skip", 0) > 0:
                fault["skip"] -= 1
                continue
            fault["count"] -= 1
            if fault["count"] <= 0:
                fake.faults.remove(fault)
            return fault
        return None

    @staticmethod
    def _fault_error(fault: dict[str, Any]) -> StripeFakeError:
        status = int(fault["status"])
        if status == 429:
            return StripeFakeError(
                429, "invalid_request_error", "Request rate limit exceeded (injected).", code="rate_limit"
            )
        return StripeFakeError(status, "api_error", f"Injected server error {status}.")

    def _execute(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            return self.server.fake.handle(method, path, params)
        except StripeFakeError as e:
            return e.status, e.body()

    def _idempotent(self, request: _KeyedRequest, params: dict[str, Any]) -> tuple[int, Any, bool]:
        fake = self.server.fake
        key = request.key
        if len(key) > 255:
            raise invalid("Idempotency-Key must be at most 255 characters", param="Idempotency-Key")
        now = fake.now()
        scope, fingerprint = request.scope()
        saved = fake.idempotency.get(scope)
        if saved and now - saved["created"] < IDEMPOTENCY_TTL_SECONDS:
            if saved["fingerprint"] != fingerprint:
                raise StripeFakeError(
                    400,
                    "idempotency_error",
                    f"Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    f"execute a different request.",
                )
            return saved["status"], saved["body"], True
        status, body = self._execute(request.method, request.path, params)
        # Like Stripe: a request rejected by parameter validation (400/404 invalid_request_error) is not saved.
        if not (status in (400, 404) and body.get("error", {}).get("type") == "invalid_request_error"):
            self._save_result(request, status, body)
        return status, copy.deepcopy(body), False

    def _save_result(self, request: _KeyedRequest, status: int, body: Any) -> None:
        fake = self.server.fake
        scope, fingerprint = request.scope()
        fake.idempotency[scope] = {
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "created": fake.now(),
        }

    # -- control endpoints (no auth; bound to 127.0.0.1 only)
    def _control(self, method: str, path: str, raw: bytes) -> None:
        fake = self.server.fake
        body = json.loads(raw or b"{}")
        with fake.lock:
            if path == "/_fake/reset" and method == "POST":
                fake.reset()
                fake.save()
                return self._send(200, {"ok": True})
            if path == "/_fake/state" and method == "GET":
                return self._send(200, fake._persisted())
            if path == "/_fake/requests":
                if method == "DELETE":
                    fake.requests.clear()
                return self._send(200, {"requests": list(fake.requests)})
            if path == "/_fake/faults":
                if method == "POST":
                    fault = {
                        "status": int(body.get("status", 500)),
                        "count": int(body.get("count", 1)),
                        "mode": body.get("mode", "before"),
                        "method": body.get("method"),
                        "path_prefix": body.get("path_prefix"),
                        "skip": int(body.get("skip", 0)),
                    }
                    if fault["mode"] not in ("before", "after", "saved"):
                        return self._send(400, {"error": {"message": "mode must be before, after or saved"}})
                    fake.faults.append(fault)
                elif method == "DELETE":
                    fake.faults.clear()
                return self._send(200, {"faults": list(fake.faults)})
            if path == "/_fake/rate_limit" and method == "POST":
                fake.rate_limit_per_second = body.get("per_second")
                fake._window.clear()
                return self._send(200, {"per_second": fake.rate_limit_per_second})
            if path == "/_fake/clock" and method == "POST":
                fake.clock_offset += int(body.get("advance_seconds", 0))
                fake.save()
                return self._send(200, {"now": fake.now()})
            if path == "/_fake/webhook" and method == "POST":
                fake.webhook = {"url": body["url"], "secret": body["secret"]} if body.get("url") else None
                return self._send(200, {"webhook": bool(fake.webhook)})
        self._send(404, {"error": {"message": f"unknown control endpoint {method} {path}"}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe
    verbose: bool = False

    def shutdown(self) -> None:
        super().shutdown()
        self.fake.flush()


def serve(
    host: str = "127.0.0.1", port: int = 0, state_file: Path | str | None = None, verbose: bool = False
) -> tuple[ThreadingHTTPServer, str]:
    """Start the fake in a background thread. Returns (server, base_url); stop with server.shutdown()."""
    server = _Server((host, port), _Handler)
    server.fake = FakeStripe(Path(state_file) if state_file else None)
    server.verbose = verbose
    thread = threading.Thread(target=server.serve_forever, name="stripe-fake", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stripe-fake", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--state-file", type=Path, default=None, help="JSON file keeping state across restarts"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="requests per second (Stripe test mode: 25)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server, url = serve(args.host, args.port, args.state_file, args.verbose)
    server.fake.rate_limit_per_second = args.rate_limit  # type: ignore[attr-defined]
    banner = f"Stripe fake listening on {url} (set STRIPE_API_BASE={url} STRIPE_API_KEY=sk_test_fake)"
    return run_until_interrupted(server, banner)


if __name__ == "__main__":
    raise SystemExit(main())
