"""Parts of bench/bench_month_close.py: the reusable raw layer (manifest, checks, linking), the results
file, the marketplace identities of the synthetic customers, the Stripe sample and the summary table.

The raw usage layer of a full run (100,000,000 events, about 2.5 GB of Parquet) takes minutes to write,
so it can be generated once (`--generate-only --raw DIR`) and reused (`--raw DIR`): a manifest
(`bench_manifest.json`) beside `usage_events/` records what was generated, and a reused layer is
checked against the run's scale before any work starts (a run must not fail late).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

MANIFEST = "bench_manifest.json"
FULL_EVENTS, FULL_CUSTOMERS = 100_000_000, 100_000


class RawLayerError(ValueError):
    """A reused raw layer that does not fit the run; the message says what differs and what to do."""


# -- the raw layer ---------------------------------------------------------------------------------------
def write_manifest(raw: Path, **fields: Any) -> None:
    (raw / MANIFEST).write_text(json.dumps(fields, indent=1) + "\n")


def read_manifest(raw: Path) -> dict[str, Any] | None:
    path = raw / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RawLayerError(
            f"{path}: not readable JSON ({exc}); delete it or regenerate the raw layer"
        ) from None
    if not isinstance(manifest, dict):
        raise RawLayerError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    return manifest


def parquet_rows(usage: Path) -> tuple[int, int]:
    """(files, rows) of the usage layer, from the Parquet footers (no data read)."""
    files = sorted(usage.glob("*/*.parquet"))
    return len(files), sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def highest_customer_number(parquet_file: Path) -> tuple[int, int]:
    """(the highest N of the `cus_N` customer ids, rows read) in the first row group of a generated file."""
    ids = pq.ParquetFile(parquet_file).read_row_group(0, columns=["customer_id"]).column("customer_id")
    numbers = pc.cast(pc.utf8_slice_codeunits(ids, 4), "int64")
    return int(pc.max(numbers).as_py()), len(ids)


def check_raw(
    source: Path, events: int, customers: int, month_start: date, days: int, scale: float
) -> dict[str, Any]:
    """Check that `source` holds a generated usage layer for this run's scale; returns what it holds
    (files, rows, days, highest customer number). Raises RawLayerError naming what differs."""
    usage = source / "usage_events"
    if not usage.is_dir():
        raise RawLayerError(
            f"--raw {source}: no usage_events/ folder in it. Generate one with "
            f"BENCH_SCALE={scale:g} .venv/bin/python bench/bench_month_close.py --generate-only --raw {source}"
        )
    expected_days = [f"arrival_date={(month_start + timedelta(days=d)).isoformat()}" for d in range(days)]
    found_days = sorted(p.name for p in usage.iterdir() if p.is_dir())
    if found_days != expected_days:
        missing = sorted(set(expected_days) - set(found_days))
        extra = sorted(set(found_days) - set(expected_days))
        raise RawLayerError(
            f"--raw {source}: usage_events/ should hold the {days} arrival days from {month_start} "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, unexpected {extra[:3]}): "
            "regenerate it with --generate-only"
        )
    files, rows = parquet_rows(usage)
    manifest = read_manifest(source)
    scale_hint = f"BENCH_SCALE={scale:g} means {events:,} events and {customers:,} customers"
    if manifest is not None:
        if manifest.get("customers") != customers or manifest.get("events") != events:
            made_for = manifest.get("events", 0) / FULL_EVENTS
            raise RawLayerError(
                f"--raw {source} was generated for {manifest.get('events'):,} events and "
                f"{manifest.get('customers'):,} customers ({MANIFEST}), but {scale_hint}: run with "
                f"BENCH_SCALE={made_for:g}, or generate a layer for this scale with --generate-only"
            )
        if manifest.get("rows") is not None and manifest["rows"] != rows:
            raise RawLayerError(
                f"--raw {source}: {MANIFEST} says {manifest['rows']:,} rows were written but the files hold "
                f"{rows:,}: files are missing or partial (an interrupted generation?); regenerate it"
            )
    first = sorted((usage / expected_days[0]).glob("*.parquet"))
    if not first:
        raise RawLayerError(
            f"--raw {source}: {usage / expected_days[0]} holds no Parquet file; regenerate it"
        )
    highest, sampled = highest_customer_number(first[0])
    # uniform draws over the customers: with >= 20 draws per customer, the chance that none is in the
    # top 5 % is 0.95^(20 x customers) (< 1e-8 for 10 customers): a lower highest number means the
    # layer was generated for fewer customers than the catalog has (another scale)
    if highest >= customers or (sampled >= 20 * customers and highest < (customers - 1) * 0.95):
        raise RawLayerError(
            f"--raw {source}: its events name customers up to cus_{highest}, but {scale_hint} "
            f"(cus_0..cus_{customers - 1}): the layer was generated for another scale; set BENCH_SCALE "
            "to the scale it was generated with, or regenerate it with --generate-only"
        )
    if manifest is None and not events * 0.9 <= rows <= events * 1.1:
        raise RawLayerError(
            f"--raw {source}: {rows:,} rows, but {scale_hint} (about {events * 1.01:,.0f} rows with the 1 % "
            "re-sent duplicates): the layer was generated for another scale"
        )
    return {"files": files, "rows": rows, "days": len(found_days), "highest_customer": highest}


def link_usage(source: Path, raw: Path, log: Callable[[str], None]) -> str:
    """Make `raw/usage_events` a copy of `source/usage_events` made of hard links (instant, no space;
    deleting the work folder leaves the source intact); copies when they are on different file systems."""
    target = raw / "usage_events"
    raw.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source / "usage_events", target, copy_function=os.link)
        return "hard links"
    except (OSError, shutil.Error) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.rmtree(target, ignore_errors=True)
        log(f"cannot hard-link {source} into {raw} ({exc}): copying it instead")
        shutil.copytree(source / "usage_events", target)
        return "copied"


# -- the results file --------------------------------------------------------------------------------------
class ResultsFile:
    """One JSON object per line, appended and flushed to disk as soon as a step ends, so a run cut
    short keeps what it measured. Each line is printed too (`RESULT {...}`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, default=str)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        print(f"RESULT {line}", flush=True)


# -- marketplace identities ----------------------------------------------------------------------------------
MARKETPLACES = ("aws", "azure", "google")


def marketplace_customers(customers: int, count: int, plans: int) -> list[int]:
    """The customer numbers that buy through a marketplace: the first `count` customers on the first
    demo plan (`payg`, USD: every N-th customer, N = the number of plans; the example offering
    covers plan payg only)."""
    return [n for n in range(0, customers, plans)][:count]


def write_marketplace_identities(path: Path, numbers: list[int], since: str) -> dict[str, int]:
    """marketplace_customers.yaml (docs/marketplaces.md, section 2) for the customers `numbers`, in
    turn on AWS (account id + license ARN), Azure (SaaS resource id + plan) and Google (usage
    reporting id), subscribed since `since`. Returns customers per marketplace."""
    counts = dict.fromkeys(MARKETPLACES, 0)
    lines = ["customers:"]
    for position, n in enumerate(numbers):
        marketplace = MARKETPLACES[position % len(MARKETPLACES)]
        counts[marketplace] += 1
        states = f"states: [{{state: subscribed, since: {since}}}]"
        if marketplace == "aws":
            identity = (
                f'account_id: "{n:012d}", '
                f"license_arn: 'arn:aws:license-manager::{n:012d}:license:l-{n:017x}'"
            )
        elif marketplace == "azure":
            identity = f"resource_id: {n:08x}-0000-4000-8000-{n:012x}, plan_id: payg-monthly"
        else:
            identity = f"usage_reporting_id: 'project_number:{900000000000 + n}'"
        lines.append(f"  - customer_id: cus_{n}")
        lines.append(f"    {marketplace}: {{offering: gpu_cloud, {identity}, {states}}}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return counts


# -- the Stripe sample -----------------------------------------------------------------------------------------
@contextmanager
def stripe_sample(limit: int | None, seen: dict[str, int]) -> Iterator[None]:
    """While active, the Stripe exporter (exports.stripe.exporter) exports only the first `limit`
    invoices in its own order (issue date, invoice id: exports/stripe/source.py load_invoices) and the
    credit and debit notes of those invoices; everything else about the export is unchanged. `seen`
    gets the number of exportable invoices ("total") and of those exported ("sample")."""
    from exports.stripe import exporter

    original_invoices, original_notes = exporter.load_invoices, exporter.load_credit_notes
    kept: set[str] = set()

    def load_invoices(con: Any) -> Any:
        invoices, errors, not_exportable = original_invoices(con)
        seen["total"] = len(invoices)
        chosen = invoices if limit is None else invoices[:limit]
        seen["sample"] = len(chosen)
        kept.update(i.usagebill_id for i in chosen)
        return chosen, errors, not_exportable

    def load_credit_notes(con: Any) -> Any:
        credits, debits, errors = original_notes(con)
        if limit is None:
            return credits, debits, errors
        return (
            [c for c in credits if c.original_invoice_id in kept],
            [d for d in debits if d.original_invoice_id in kept],
            errors,
        )

    exporter.load_invoices, exporter.load_credit_notes = load_invoices, load_credit_notes
    try:
        yield
    finally:
        exporter.load_invoices, exporter.load_credit_notes = original_invoices, original_notes


# -- the summary --------------------------------------------------------------------------------------------
def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(value: float | None, goal: float, at_most: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value <= goal if at_most else value >= goal
    return "met" if met else "NOT met"
