#!/usr/bin/env bash
# System packages the tests use: PostgreSQL server binaries (SQL-based measurement and the
# dbt-postgres target), poppler-utils (checks the PDF invoices), the invoice PDFs' fonts, chromium (opens the executive
# report as a person would, driven by Playwright) and a Java 17 runtime (the Spark target: pyspark 4
# runs on Java 17 or 21; `make spark-parity`, docs/spark.md). Installed only if missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
# fonts embedded in the invoice PDFs (usagebill/invoices/documents.py): DejaVu Sans, and Droid Sans
# Fallback for Chinese, Japanese and Korean characters
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need+=(fonts-droid-fallback)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ] 2>/dev/null; then
  need+=(openjdk-17-jre-headless)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages (${need[*]}); tests that need them will be skipped with a reason" >&2
  fi
fi
