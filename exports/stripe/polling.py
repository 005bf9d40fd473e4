"""Polling fallback for webhooks: list /v1/events and land the ones not landed yet (idempotent by id).

Stripe lists events newest first and keeps them 30 days. Each poll asks for `created >= cursor - overlap`
(overlap 10 min, for events that share a second or arrive late), filtered to the payment event types, and
pages with `starting_after` until `has_more` is false. Already landed ids are skipped, so overlapping polls,
webhook deliveries and re-runs never duplicate an event. The cursor (latest `created` seen) is a small JSON
file next to the events.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exports.stripe.api import StripeApi
from exports.stripe.events import PAYMENT_EVENT_TYPES, EventStore

OVERLAP_SECONDS = 600


@dataclass(frozen=True)
class PollSummary:
    fetched: int
    new: int
    duplicate: int
    pages: int
    cursor: int | None

    def line(self) -> str:
        return (
            f"stripe events poll: fetched {self.fetched} in {self.pages} page(s), landed {self.new} new, "
            f"{self.duplicate} already landed; cursor created={self.cursor}"
        )


def _cursor_file(store: EventStore) -> Path:
    return store.root / "_poll_cursor.json"


def read_cursor(store: EventStore) -> int | None:
    path = _cursor_file(store)
    return json.loads(path.read_text())["last_created"] if path.exists() else None


def poll_events(
    api: StripeApi,
    store: EventStore | None = None,
    types: tuple[str, ...] = PAYMENT_EVENT_TYPES,
    page_size: int = 100,
) -> PollSummary:
    store = store or EventStore()
    cursor = read_cursor(store)
    params: dict[str, Any] = {"limit": page_size, "types": list(types)}
    if cursor is not None:
        params["created"] = {"gte": cursor - OVERLAP_SECONDS}
    fetched = new = dup = pages = 0
    latest = cursor
    while True:
        page = api.list_events(params)
        pages += 1
        events = page["data"]
        fetched += len(events)
        result = store.land(events, source="polling")
        new, dup = new + result.new, dup + result.duplicate
        for event in events:
            latest = max(latest or 0, int(event["created"]))
        if not page.get("has_more") or not events:
            break
        params["starting_after"] = events[-1]["id"]
        if pages % 10 == 0:
            print(f"stripe events poll: {fetched} fetched so far", file=sys.stderr, flush=True)
    if latest is not None:
        store.root.mkdir(parents=True, exist_ok=True)
        tmp = _cursor_file(store).with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_created": latest}))
        tmp.replace(_cursor_file(store))
    return PollSummary(fetched, new, dup, pages, latest)
