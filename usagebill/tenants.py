"""The tenant name rule, in one place: the collector, the loader, the event contract
(ingestion.events), `usagebill keys create` and the catalog all check tenant names with
`TENANT_RE` / `tenant_name_error`. It lives in the library so that every layer can use it
(docs/architecture.md "Layers")."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "DEFAULT_TENANT",
    "TENANT_RE",
    "TENANT_RULE",
    "check_tenant_name",
    "qualified_customer",
    "tenant_name_error",
]

DEFAULT_TENANT = "default"
TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")

TENANT_RULE = "1-64 characters of letters, digits, '_', '.' or '-', starting with a letter or digit"


def tenant_name_error(name: Any) -> str | None:
    """None when ``name`` is a valid tenant name, else what is wrong with it and what to send."""
    if not isinstance(name, str):
        return f"tenant {name!r} is {type(name).__name__}; a tenant name is a string of {TENANT_RULE}"
    if TENANT_RE.fullmatch(name) is None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        return f"tenant {shown!r} is not a valid tenant name: use {TENANT_RULE} (like 'acme' or 'acme-corp')"
    return None


def check_tenant_name(name: Any) -> str:
    """Return ``name`` when valid; raise ValueError naming the rule otherwise."""
    if (error := tenant_name_error(name)) is not None:
        raise ValueError(error)
    return name


def qualified_customer(tenant_id: str, customer_id: str) -> str:
    """A customer's identity (tenant_id, customer_id) as one string: the customer id in the default
    tenant (the key used before tenants existed), else ``tenant/customer_id`` (a catalog id never
    contains '/'). For keys and messages that name a customer."""
    return customer_id if tenant_id == DEFAULT_TENANT else f"{tenant_id}/{customer_id}"
