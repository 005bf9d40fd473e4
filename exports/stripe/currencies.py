"""Stripe's minor units per currency: ISO 4217 in the books, Stripe's rule at the Stripe boundary.

One table, dbt_project/seeds/stripe_currency_units.csv (also a dbt seed, used by the payments marts to
read Stripe's amounts back), with columns:

  iso_minor_unit        decimals of the ISO 4217 minor unit (what usagebill's books use)
  stripe_decimals       decimals of Stripe's API `amount` for the currency
  charge_multiple       a charged amount (invoice amount due) must be a multiple of this, in Stripe units
  payout_multiple       payouts must be a multiple of this (documentation only: usagebill makes no payouts)
  minimum_charge_minor  Stripe's minimum charge amount in Stripe units (empty: not published per currency)

Sources (https://docs.stripe.com/currencies):
- "Zero-decimal currencies" (#zero-decimal): BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF
  XPF take the amount in the main unit (JPY 1234 = 1234).
- "Special cases" (#special-cases): ISK is zero-decimal but Stripe's API keeps it two-decimal for backwards
  compatibility: amounts are x100 and must be divisible by 100 (15,000 ISK = 1500000). HUF and TWD are
  two-decimal in the API; their payouts must be divisible by 100. UGX payouts likewise.
- "Three-decimal currencies" (#three-decimal): BHD JOD KWD OMR TND take three decimals, but a payment's
  last digit must be 0 (5.124 KWD cannot be charged; 5.120 = 5120 can).
- "Minimum and maximum charge amounts" (#minimum-and-maximum-charge-amounts): USD 0.50, EUR 0.50,
  GBP 0.30, JPY 50, ... An invoice whose amount due is below it is marked paid by Stripe and the amount is
  added to the customer's invoice balance (https://docs.stripe.com/api/invoices, "If the amount due for
  the invoice is less than Stripe's minimum allowed charge per currency, the invoice is automatically
  marked paid, and we add the amount due to the customer's credit balance which is applied to the next
  invoice").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

TABLE = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "stripe_currency_units.csv"
SOURCE = "https://docs.stripe.com/currencies"


class StripeCurrencyError(ValueError):
    """A currency or amount Stripe cannot take; the message names the rule and its source."""


@dataclass(frozen=True)
class StripeCurrency:
    currency: str  # ISO code, upper case
    iso_minor_unit: int
    stripe_decimals: int
    charge_multiple: int
    payout_multiple: int
    minimum_charge_minor: int | None  # Stripe units
    rule: str

    @property
    def factor(self) -> int:
        """Stripe units per ISO minor unit (ISK: 100; everything else: 1)."""
        return 10 ** (self.stripe_decimals - self.iso_minor_unit)


@cache
def table() -> dict[str, StripeCurrency]:
    out: dict[str, StripeCurrency] = {}
    with TABLE.open(newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["currency"]] = StripeCurrency(
                row["currency"],
                int(row["iso_minor_unit"]),
                int(row["stripe_decimals"]),
                int(row["charge_multiple"]),
                int(row["payout_multiple"]),
                int(row["minimum_charge_minor"]) if row["minimum_charge_minor"] else None,
                row["rule"],
            )
    return out


def stripe_currency(currency: str) -> StripeCurrency:
    try:
        return table()[currency.upper()]
    except KeyError:
        raise StripeCurrencyError(
            f"currency {currency!r} is not in the Stripe currency table {TABLE.name}: add it with its Stripe "
            f"decimals and rules from {SOURCE} before exporting invoices in it"
        ) from None


def to_stripe_amount(iso_minor: int, currency: str) -> int:
    """An amount in ISO minor units (the books) as Stripe's API `amount` (ISK 15000 -> 1500000)."""
    if stripe_currency(currency).stripe_decimals < stripe_currency(currency).iso_minor_unit:
        raise StripeCurrencyError(f"{currency}: Stripe has fewer decimals than ISO 4217; not supported")
    return int(iso_minor) * stripe_currency(currency).factor


def from_stripe_amount(stripe_amount: int, currency: str) -> Decimal:
    """Stripe's `amount` as an exact Decimal in the currency (ISK 1500000 -> 15000.00)."""
    return Decimal(int(stripe_amount)).scaleb(-stripe_currency(currency).stripe_decimals)


def check_chargeable(stripe_amount: int, currency: str, where: str) -> None:
    """A charged amount must respect the currency's charge multiple (three-decimal: last digit 0)."""
    cur = stripe_currency(currency)
    if stripe_amount % cur.charge_multiple:
        shown = from_stripe_amount(stripe_amount, currency)
        raise StripeCurrencyError(
            f"{where}: amount due {shown} {cur.currency} ({stripe_amount} in Stripe units) cannot be charged: "
            f"Stripe requires {cur.currency} payments in multiples of {cur.charge_multiple} Stripe units "
            f"({cur.rule}; {SOURCE}#three-decimal). Round the invoice's amount due to "
            f"{from_stripe_amount(cur.charge_multiple, currency)} {cur.currency} or bill it through another channel"
        )


def below_minimum(stripe_amount: int, currency: str) -> bool:
    """True when 0 < amount < Stripe's minimum charge for the currency (Stripe marks such invoices paid)."""
    minimum = stripe_currency(currency).minimum_charge_minor
    return minimum is not None and 0 < stripe_amount < minimum
