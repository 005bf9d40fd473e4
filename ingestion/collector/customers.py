"""Which tenant owns which customer, for the collector: an event of tenant B for a customer that
the catalog gives only to other tenants is refused at the door (rule ``customer_of_another_tenant``).

The map comes from the catalog's customers.yaml (parsed by usagebill.catalog, the same rules as the
catalog loader). It is read once at start and re-read in a worker thread when the file changes
(checked every ``refresh_seconds``), never on the event loop after start. The file is bounded
(``max_bytes``); when it is missing, too large or invalid, the last good map stays in force and the
problem is reported in ``error``. Customers the catalog does not know are not refused here: their
usage is reported as unbilled by rating (docs/architecture.md, "Tenant isolation").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ingestion.events import Rejection, ValidEvent

log = logging.getLogger(__name__)

RULE = "customer_of_another_tenant"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class CustomerTenants:
    def __init__(
        self, catalog_dir: Path | None, *, refresh_seconds: float = 5.0, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.path = catalog_dir / "customers.yaml" if catalog_dir is not None else None
        self.refresh_seconds = refresh_seconds
        self.max_bytes = max_bytes
        self.owners: dict[str, frozenset[str]] = {}
        self.error: str | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self.refresh()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self) -> bool:
        """Re-read customers.yaml when it changed; True when the map was replaced."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        if stamp is None:
            self._stamp = None
            self.error = f"{self.path} not found: events are not checked against customer tenants"
            return False
        if stamp[1] > self.max_bytes:
            self._stamp = stamp
            self.error = (
                f"{self.path} is {stamp[1]} bytes, above the limit of {self.max_bytes}; "
                "keeping the previous customer map"
            )
            log.warning("collector: %s", self.error)
            return False
        from usagebill.catalog import CatalogError
        from usagebill.catalog.parse import customer_tenants

        try:
            owners = customer_tenants(self.path.parent)
        except (CatalogError, OSError) as exc:
            self._stamp = stamp
            self.error = f"{self.path} is invalid, keeping the previous customer map: {exc}"
            log.warning("collector: %s", self.error)
            return False
        self.owners, self._stamp, self.error = owners, stamp, None
        return True

    @property
    def checker(self) -> Callable[[ValidEvent], Rejection | None] | None:
        """`check`, or None while the map is empty (no per-event cost without a catalog)."""
        return self.check if self.owners else None

    def check(self, event: ValidEvent) -> Rejection | None:
        """A rejection when the catalog gives ``event.customer_id`` only to other tenants."""
        tenants = self.owners.get(event.customer_id)
        if tenants is None or event.tenant_id in tenants:
            return None
        # never name the owning tenant: the caller must not learn other tenants' customers
        return Rejection(
            "customer_id",
            RULE,
            f"customer {event.customer_id!r} belongs to another tenant in the catalog; a key of tenant "
            f"{event.tenant_id!r} writes only that tenant's customers: use the customer's own tenant key "
            "or fix customer_id",
            event.event_id,
        )

    # -- background refresh ------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                if self._file_stamp() != self._stamp:
                    await asyncio.to_thread(self.refresh)
            except Exception:  # a refresh problem must never stop the collector
                log.exception("collector: customer map refresh failed; keeping the previous map")

    def start(self) -> None:
        if self._task is None and self.path is not None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
