"""Currency conversion into a marketplace's listing currency, from a dated rates table.

Marketplace prices are in the listing currency (USD on AWS, Azure and Google in the demo catalog); a
customer billed in another currency has its billed amount converted BEFORE it is divided by the
dimension's unit price, through `data/catalog/marketplace_fx_rates.csv` (example:
usagebill/marketplace_examples/marketplace_fx_rates.csv):

    from_currency,to_currency,rate,effective_date,source
    EUR,USD,1.0850,2026-05-01,ECB reference rate ...

`rate` = units of to_currency for 1 unit of from_currency (a decimal string, never a float);
the rate of an hour is the row with the latest effective_date <= the hour's UTC date. Suggested public
source: the ECB euro foreign exchange reference rates
(https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html),
published each TARGET working day around 16:00 CET, quoted as foreign currency per 1 EUR.
No rate -> CurrencyConversionError naming the customer, currencies and date: the customer's hours are
NOT reported (never an EUR amount divided by a USD price) until a rate is added; the running total
keeps the usage, so nothing is lost.
"""

from __future__ import annotations

import bisect
import csv
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

FX_FILE = "marketplace_fx_rates.csv"
MAX_FILE_BYTES = 5_000_000
MAX_ROWS = 100_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^\d{1,12}(\.\d{1,12})?$")
PRECISION = Decimal("1e-12")


class CurrencyConversionError(ValueError):
    """An amount cannot be converted into the listing currency: refuse it, with what to do.
    `refused`: (tenant_id, customer_id) -> message, when raised for a reporting run."""

    def __init__(self, message: str, refused: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__(message)
        self.refused = dict(refused or {})


@dataclass
class FxRates:
    source_file: str = ""
    _rates: dict[tuple[str, str], tuple[list[date], list[Decimal]]] = field(default_factory=dict)

    def add(self, from_currency: str, to_currency: str, effective: date, rate: Decimal) -> None:
        dates, rates = self._rates.setdefault((from_currency, to_currency), ([], []))
        index = bisect.bisect_left(dates, effective)
        if index < len(dates) and dates[index] == effective:
            raise ValueError(f"two {from_currency}->{to_currency} rates effective on {effective}")
        dates.insert(index, effective)
        rates.insert(index, rate)

    def rate(self, from_currency: str, to_currency: str, on: date) -> Decimal:
        if from_currency == to_currency:
            return Decimal(1)
        dates, rates = self._rates.get((from_currency, to_currency), ([], []))
        index = bisect.bisect_right(dates, on)
        if not index:
            where = self.source_file or FX_FILE
            raise CurrencyConversionError(
                f"no {from_currency}->{to_currency} rate effective on {on.isoformat()} in {where}: add a row "
                f"'{from_currency},{to_currency},<{to_currency} per 1 {from_currency}>,<date <= {on.isoformat()}>,"
                "<source>' (e.g. the ECB reference rate of that date); until then this customer's usage is "
                "not reported to the marketplace (it stays in the running total, nothing is lost)"
            )
        return rates[index - 1]

    def rows(self) -> list[tuple[tuple[str, str], date, Decimal]]:
        """Every rate: ((from, to), effective date, rate), in order."""
        return [
            (pair, effective, rate)
            for pair, (dates, rates) in sorted(self._rates.items())
            for effective, rate in zip(dates, rates, strict=True)
        ]

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, on: date) -> Decimal:
        """amount (from_currency) -> to_currency, exact to 12 decimal places (no per-hour rounding)."""
        if from_currency == to_currency:
            return amount
        return (amount * self.rate(from_currency, to_currency, on)).quantize(PRECISION)


def load_fx_rates(path: Path) -> FxRates:
    """Read and validate the rates CSV; every problem is listed at once, each naming the row and column."""
    rates = FxRates(str(path))
    if not path.exists():
        return rates
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES} bytes; keep only the rates you need")
    errors: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        required = {"from_currency", "to_currency", "rate", "effective_date", "source"}
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}; header: {', '.join(sorted(required))}"
            )
        for number, row in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                errors.append(f"{path}: more than {MAX_ROWS} rows")
                break
            where = f"{path}: row {number}"
            src, dst = (row.get("from_currency") or "").strip(), (row.get("to_currency") or "").strip()
            text = (row.get("rate") or "").strip()
            for column, value in (("from_currency", src), ("to_currency", dst)):
                if not _CURRENCY.match(value):
                    errors.append(f"{where}: {column} must be an ISO 4217 code such as EUR, got {value!r}")
            if not _DECIMAL.match(text):
                errors.append(f"{where}: rate must be a positive decimal such as 1.0850, got {text!r}")
                continue
            try:
                value = Decimal(text)
                effective = date.fromisoformat((row.get("effective_date") or "").strip())
            except (InvalidOperation, ValueError):
                errors.append(
                    f"{where}: effective_date must be a date YYYY-MM-DD, got {row.get('effective_date')!r}"
                )
                continue
            if value <= 0:
                errors.append(f"{where}: rate must be > 0, got {text}")
            elif not (row.get("source") or "").strip():
                errors.append(f"{where}: source is required (where the rate comes from, e.g. the ECB URL)")
            elif not errors:
                try:
                    rates.add(src, dst, effective, value)
                except ValueError as exc:
                    errors.append(f"{where}: {exc}")
    if errors:
        raise ValueError("\n".join(errors))
    return rates
