"""The tenant name rule, in one place: the collector, the loader, `usagebill keys create` and the
catalog all check tenant names with `tenant_name_error` (built on ingestion.events.TENANT_RE)."""

from __future__ import annotations

from typing import Any

from ingestion.events import DEFAULT_TENANT, TENANT_RE

__all__ = ["DEFAULT_TENANT", "TENANT_RULE", "check_tenant_name", "tenant_name_error"]

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
