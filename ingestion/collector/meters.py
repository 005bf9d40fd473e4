"""The catalog's meters as the collector sees them (DATA_DIR/catalog/meters.yaml, docs/pricing.md).

Used for three things, all optional (without a catalog the collector only applies the event
contract):
- an event whose meter is not in the catalog is still accepted (the meter may be added later and
  the usage re-rated) but its answer carries ``warning: unknown_meter`` and the counter
  ``usagebill_collector_unknown_meter_total`` counts it: it bills nothing until then;
- CloudEvents ``data`` / Lago ``properties`` entries named like a dimension the meter groups or
  filters by become that event's ``dimensions`` (string values, or integers as text);
- a CloudEvent / Lago event without an explicit quantity takes it from the meter's
  ``value_property`` (Lago's ``field_name`` of a sum metric), so it is bounded by the contract here.

The file is re-read when its modification time changes (checked at most every 2 s).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_METERS_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class MeterInfo:
    meter_id: str
    aggregation: str
    value_property: str | None
    dimensions: tuple[str, ...]  # group_by, then filter keys not already grouped by


def parse_meters(doc: Any) -> dict[str, MeterInfo]:
    """Meters of a meters.yaml document; entries that are not meters are skipped (the catalog
    loader, `usagebill catalog validate`, reports them)."""
    out: dict[str, MeterInfo] = {}
    items = doc.get("meters") if isinstance(doc, Mapping) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        group_by = [d for d in item.get("group_by") or [] if isinstance(d, str)]
        filters = item.get("filters") or {}
        dims = tuple(dict.fromkeys([*group_by, *(k for k in filters if isinstance(k, str))]))
        value_property = item.get("value_property")
        out[item["id"]] = MeterInfo(
            item["id"],
            str(item.get("aggregation") or ""),
            value_property.removeprefix("$.") if isinstance(value_property, str) and value_property else None,
            dims,
        )
    return out


class MeterCatalog:
    """The meters of ``catalog_dir/meters.yaml``; ``known`` is False when there is no such file."""

    def __init__(self, catalog_dir: Path | None, *, recheck_seconds: float = 2.0) -> None:
        self.path = catalog_dir / "meters.yaml" if catalog_dir is not None else None
        self.recheck_seconds = recheck_seconds
        self.meters: dict[str, MeterInfo] = {}
        self.known = False
        self.error: str | None = None
        self._mtime: int | None = None
        self._checked = 0.0
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.path is None or (not force and now - self._checked < self.recheck_seconds):
            return
        self._checked = now
        try:
            stat = self.path.stat()
        except OSError:
            self.meters, self.known, self._mtime = {}, False, None
            return
        if stat.st_mtime_ns == self._mtime:
            return
        if stat.st_size > MAX_METERS_FILE_BYTES:
            self.error = f"{self.path} is larger than {MAX_METERS_FILE_BYTES} bytes; meters not reloaded"
            return
        with contextlib.suppress(OSError, yaml.YAMLError):
            self.meters = parse_meters(yaml.safe_load(self.path.read_text(encoding="utf-8")))
            self.known = True
            self._mtime = stat.st_mtime_ns

    def get(self, meter: str) -> MeterInfo | None:
        return self.meters.get(meter)

    def is_unknown(self, meter: str) -> bool:
        """True only when a catalog is loaded and does not define ``meter``."""
        return self.known and meter not in self.meters
