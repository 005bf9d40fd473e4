"""Benchmark: invoice documents per second, fpdf2 (the engine used) against Chromium printing the HTML.

    .venv/bin/python bench/bench_documents.py [--documents 100] [--workers N]

Renders N synthetic invoices (6 lines each, Unicode buyer names, like the month close's) with:
  1. fpdf2, the full TTF font parsed for every document (the renderer before), serially
  2. fpdf2 as rendered now (usagebill.invoices.documents): the parsed font cached per process and
     the reduced font (Latin, Greek, Cyrillic) when the document fits it, serially
  3. render_documents: (2) in a pool of --workers processes (default: the cores), as render_all does
  4. the alternative: Chromium `--headless --print-to-pdf` of the same HTML, one browser run per
     document (the way a driver without a resident browser would call it), serially
and prints documents/s for each, their ratios against (4) and (1) measured in the same run, and the
time 100,000 documents would take at the best rate. HTML + PDF are both written in 1-3 (the HTML
is input to 4). Runs (1) and (4) on min(N, 20) documents (they are slow). No timed assertion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from usagebill.invoices import documents  # noqa: E402
from usagebill.invoices.documents import Document, Line, Party, TaxRow  # noqa: E402
from usagebill.progress import format_duration  # noqa: E402

BUYERS = [
    "Berlin Robotics GmbH",
    "Société Générale d'Études",
    "Łódź Vision sp. z o.o.",
    "Δέλτα ΑΕ",
    "Müller & Söhne KG",
]


def synthetic(count: int) -> list[Document]:
    docs = []
    for i in range(count):
        lines = [
            Line(
                n,
                f"GPU time ({gpu}), 20,000,000 included",
                "2026-04-01 to 2026-04-30",
                f"{(i + 1) * n * 1000:,}",
                "0.00001",
                f"{(i + 1) * n * 0.01:,.2f}",
                "TVA 20%",
                "20%",
            )
            for n, gpu in enumerate(["a100", "h100", "l4", "api", "storage", "fee"], start=1)
        ]
        docs.append(
            Document(
                document_id=f"inv_{i}",
                kind="invoice",
                number=f"UB-2026-{i + 1:06d}",
                issue_date=date(2026, 5, 4),
                due_date=date(2026, 6, 3),
                period_start=date(2026, 4, 1),
                period_end=date(2026, 5, 1),
                currency="EUR",
                seller=Party(
                    "GPU Cloud SAS", ["12 rue de la Paix", "75002 Paris", "FR"], "FR40123456789", None
                ),
                buyer=Party(
                    f"{BUYERS[i % len(BUYERS)]} {i}", ["1 Main Street", "10117 Berlin", "DE"], None, None
                ),
                payment_terms_days=30,
                lines=lines,
                taxes=[TaxRow("TVA 20%", "100.00", "20.00")],
                subtotal="100.00",
                tax_total="20.00",
                total="120.00",
            )
        )
    return docs


def rate(label: str, count: int, seconds: float) -> float:
    per_second = count / seconds
    print(f"{label}: {count} documents in {seconds:.1f} s = {per_second:.2f} documents/s", flush=True)
    return per_second


def fpdf_parsed_per_document(docs: list[Document], out: Path) -> float:
    """The renderer before: the full font, parsed again for every document."""
    fits = documents._fits_reduced_font
    documents._fits_reduced_font = lambda document: False  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        for document in docs:
            documents._FONT_CACHE.clear()
            documents.render_one(document, out)
        return time.perf_counter() - started
    finally:
        documents._fits_reduced_font = fits  # type: ignore[assignment]


def fpdf_cached(docs: list[Document], out: Path) -> float:
    started = time.perf_counter()
    for document in docs:
        documents.render_one(document, out)
    return time.perf_counter() - started


def chromium(docs: list[Document], out: Path, browser: str) -> float:
    profile = out / "profile"
    started = time.perf_counter()
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
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    workers = args.workers or documents.default_workers()
    docs = synthetic(args.documents)
    few = docs[: min(len(docs), 20)]
    load = os.getloadavg()[0]
    print(f"{len(docs)} documents, {workers} workers, {os.cpu_count()} cores, load average {load:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench_documents_") as tmp:
        work = Path(tmp)
        for name in ("parsed", "cached", "pool", "chromium"):
            (work / name).mkdir()
        (work / "warm").mkdir()
        documents.render_one(docs[0], work / "warm")  # imports fpdf2, fills the font cache
        parsed = rate(
            "1. fpdf2, full font parsed per document (before)",
            len(few),
            fpdf_parsed_per_document(few, work / "parsed"),
        )
        cached = rate("2. fpdf2, cached reduced font, serial", len(docs), fpdf_cached(docs, work / "cached"))
        started = time.perf_counter()
        documents.render_documents(docs, work / "pool", workers=workers, log=lambda line: None)
        pool = rate(
            f"3. fpdf2, cached reduced font, {workers} processes", len(docs), time.perf_counter() - started
        )
        identical = all(
            (work / "cached" / p.name).read_bytes() == p.read_bytes() for p in (work / "pool").iterdir()
        )
        print(f"   pool output byte-identical to serial: {identical}")
        browser = next(
            (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
        )
        if browser:
            alt = rate(
                "4. Chromium --print-to-pdf (alternative)",
                len(few),
                chromium(few, work / "chromium", browser),
            )
            print(
                f"fpdf2 pool / Chromium = {pool / alt:.1f}x; fpdf2 serial cached / Chromium = {cached / alt:.1f}x"
            )
            sizes = [
                sum(p.stat().st_size for p in (work / name).glob("*.pdf"))
                / max(1, len(list((work / name).glob("*.pdf"))))
                for name in ("cached", "chromium")
            ]
            print(
                f"PDF size per document: fpdf2 {sizes[0] / 1024:.0f} KiB, Chromium {sizes[1] / 1024:.0f} KiB"
            )
        else:
            print("4. Chromium not installed: no alternative measured (apt-get install chromium)")
        print(
            f"font cache: {cached / parsed:.2f}x serial; pool of {workers}: {pool / parsed:.2f}x the renderer before"
        )
        best = max(pool, cached)
        print(
            f"100,000 documents at {best:.1f}/s: {format_duration(100_000 / best)} (goal 15 min); load average {load:.1f} at start"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
