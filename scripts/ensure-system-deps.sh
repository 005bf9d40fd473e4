#!/usr/bin/env bash
# System packages the tests use: PostgreSQL server binaries (SQL-based measurement and the
# dbt-postgres target), poppler-utils (checks the PDF invoices) and chromium (opens the executive
# report as a person would, driven by Playwright). Installed only if missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages (${need[*]}); tests that need them will be skipped with a reason" >&2
  fi
fi
