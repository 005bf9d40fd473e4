"""Benchmark: invoice documents per second and CPU per document; the writer against fpdf2 and Chromium.

    .venv/bin/python bench/bench_documents.py [--documents 2000] [--workers N] [--few 20]

Renders N synthetic invoices (6 lines, some with a tier split; Latin, Greek, Cyrillic and Polish
buyer names; EUR, GBP and JPY) with:
  1. fpdf2 (documents.render_pdf_fpdf2, the engine before this writer; parsed font cached per
     process), serially: the baseline, on --few documents
  2. the fixed-layout writer (documents.render_one: HTML + PDF), serially
  3. render_all as the month close runs it: digest of every document, the writer in a pool of
     --workers processes (default: the cores), the manifest written as batches finish
  4. the alternative engine: Chromium `--headless --print-to-pdf` of the same HTML, one browser
     run per document, serially, on --few documents
It prints documents/s (wall) and CPU seconds per document (this process plus its children, so less
distorted by other work on the machine), the ratios against (1) and (4) measured in the same run,
and 100,000 documents extrapolated: from the pool's wall rate, and from CPU per document on the
cores. HTML + PDF are written in 1-3. No timed assertion.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from usagebill.invoices import documents  # noqa: E402
from usagebill.invoices.documents import Document, Line, Party, TaxRow, TierRow  # noqa: E402
from usagebill.progress import format_duration  # noqa: E402

BUYERS = [
    "Berlin Robotics GmbH",
    "Société Générale d'Études",
    "Łódź Vision sp. z o.o.",
    "Δέλτα Αναλυτική ΑΕ",
    "ООО «Вычислительный центр»",
    "Müller & Söhne KG",
]
CURRENCIES = ["EUR", "GBP", "JPY"]


def synthetic(count: int) -> list[Document]:
    docs = []
    for i in range(count):
        currency = CURRENCIES[i % len(CURRENCIES)]
        cents = "" if currency == "JPY" else ".00"
        lines = []
        for n, meter in enumerate(["a100", "h100", "l4", "api", "storage", "fee"], start=1):
            tiers = (
                [
                    TierRow("Included in plan", "20,000,000", "0", f"0{cents}"),
                    TierRow("Tier 1", f"{(i + 1) * 1000:,}", "0.00001", f"{i + 1}{cents}"),
                ]
                if meter == "api"
                else []
            )
            lines.append(
                Line(
                    n,
                    f"GPU time ({meter}), 20,000,000 included",
                    "2026-04-01 to 2026-04-30",
                    f"{(i + 1) * n * 1000:,}",
                    "0.00001",
                    f"{(i + 1) * n}{cents}",
                    "VAT 20%",
                    "20%",
                    tiers,
                )
            )
        docs.append(
            Document(
                document_id=f"inv_{i}",
                kind="invoice",
                number=f"UB-2026-{i + 1:06d}",
                issue_date=date(2026, 5, 4),
                due_date=date(2026, 6, 3),
                period_start=date(2026, 4, 1),
                period_end=date(2026, 5, 1),
                currency=currency,
                seller=Party(
                    "GPU Cloud SAS", ["12 rue de la Paix", "75002 Paris", "FR"], "FR40123456789", None
                ),
                buyer=Party(
                    f"{BUYERS[i % len(BUYERS)]} {i}", ["1 Main Street", "10117 Berlin", "DE"], None, None
                ),
                payment_terms_days=30,
                lines=lines,
                taxes=[TaxRow("VAT 20%", f"100{cents}", f"20{cents}")],
                subtotal=f"100{cents}",
                discount_total=f"0{cents}",
                taxable_amount=f"100{cents}",
                tax_total=f"20{cents}",
                total=f"120{cents}",
                credits_applied=f"0{cents}",
                amount_due=f"120{cents}",
            )
        )
    return docs


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(label: str, count: int, run: Callable[[], object]) -> tuple[float, float]:
    """(documents/s wall, CPU s per document) of run(), printed."""
    cpu, started = cpu_seconds(), time.perf_counter()
    run()
    wall, used = time.perf_counter() - started, cpu_seconds() - cpu
    per_second, per_document = count / wall, used / count
    print(
        f"{label}: {count} documents in {wall:.1f} s = {per_second:.1f} documents/s, "
        f"{per_document * 1000:.1f} ms CPU per document",
        flush=True,
    )
    return per_second, per_document


def render_serially(render: Callable[[Document, Path], object], docs: list[Document], out: Path) -> None:
    for document in docs:
        render(document, out)


def fpdf2_one(document: Document, out: Path) -> None:
    (out / f"{document.filename}.html").write_text(documents.render_html(document), encoding="utf-8")
    documents.render_pdf_fpdf2(document, out / f"{document.filename}.pdf")


def chromium(docs: list[Document], out: Path, browser: str) -> None:
    profile = out / "profile"
    for document in docs:
        html = out / f"{document.filename}.html"
        html.write_text(documents.render_html(document), encoding="utf-8")
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={out / (document.filename + '.pdf')}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def average_pdf_kib(folder: Path) -> float:
    files = list(folder.glob("*.pdf"))
    return sum(p.stat().st_size for p in files) / max(1, len(files)) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--few", type=int, default=20, help="documents for the slow engines (1 and 4)")
    args = parser.parse_args()
    if not 1 <= args.documents <= 1_000_000 or not 1 <= args.few <= 10_000:
        parser.error("use 1 to 1,000,000 --documents and 1 to 10,000 --few")
    workers = args.workers or documents.default_workers()
    docs = synthetic(args.documents)
    few = docs[: min(len(docs), args.few)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load = os.getloadavg()
    print(
        f"{len(docs)} documents, {workers} workers, {cores} cores, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="bench_documents_") as tmp:
        work = Path(tmp)
        for name in ("warm", "fpdf2", "serial", "pool", "chromium"):
            (work / name).mkdir()
        fpdf2_one(docs[0], work / "warm")  # imports fpdf2 and parses its fonts once
        documents.render_one(docs[0], work / "warm")  # parses the writer's fonts once
        fpdf2_rate, fpdf2_cpu = measure(
            "1. fpdf2 (before), serial", len(few), lambda: render_serially(fpdf2_one, few, work / "fpdf2")
        )
        serial_rate, serial_cpu = measure(
            "2. writer, serial",
            len(docs),
            lambda: render_serially(documents.render_one, docs, work / "serial"),
        )
        loader = documents.load_documents
        documents.load_documents = lambda warehouse=None, number=None: docs  # type: ignore[assignment]
        try:
            pool_rate, pool_cpu = measure(
                f"3. render_all (digest + writer in {workers} processes + manifest)",
                len(docs),
                lambda: documents.render_all(work / "pool", workers=workers, log=lambda line: None),
            )
        finally:
            documents.load_documents = loader  # type: ignore[assignment]
        identical = all(
            (work / "serial" / p.name).read_bytes() == p.read_bytes()
            for p in (work / "pool").iterdir()
            if p.suffix in (".pdf", ".html")
        )
        print(f"   pool output byte-identical to serial: {identical}")
        print(
            f"writer / fpdf2: {fpdf2_cpu / serial_cpu:.1f}x less CPU per document, "
            f"{serial_rate / fpdf2_rate:.1f}x the serial rate"
        )
        browser = next(
            (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
        )
        if browser:
            alt_rate, alt_cpu = measure(
                "4. Chromium --print-to-pdf (alternative)",
                len(few),
                lambda: chromium(few, work / "chromium", browser),
            )
            print(
                f"writer / Chromium: {alt_cpu / serial_cpu:.0f}x less CPU per document, "
                f"{serial_rate / alt_rate:.0f}x the serial rate"
            )
            chromium_kib = f", Chromium {average_pdf_kib(work / 'chromium'):.0f} KiB"
        else:
            print("4. Chromium not installed: no alternative measured (apt-get install chromium)")
            chromium_kib = ""
        print(
            f"PDF size per document: writer {average_pdf_kib(work / 'serial'):.0f} KiB, "
            f"fpdf2 {average_pdf_kib(work / 'fpdf2'):.0f} KiB{chromium_kib}"
        )
        print(
            f"100,000 documents: {format_duration(100_000 / pool_rate)} at the pool's measured rate; "
            f"{format_duration(100_000 * pool_cpu / cores)} from CPU per document on {cores} idle cores "
            f"(goal 15 min); fpdf2 would need {format_duration(100_000 * fpdf2_cpu / cores)}"
        )
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
