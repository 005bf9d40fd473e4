"""Exact money. Amounts are Decimal, never float; every amount carries its currency.

Rounding rule (documented in docs/pricing.md): full precision through rating, then each
invoice line is rounded once to the currency's minor unit with ROUND_HALF_UP (half away
from zero); invoice totals are the sum of the rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units for the currencies we support out of the box.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "BRL": 2,
    "MXN": 2,
    "SGD": 2,
    "NZD": 2,
    "PLN": 2,
    "CNY": 2,
    "HKD": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "VND": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}


class UnknownCurrencyError(ValueError):
    pass


def minor_unit(currency: str) -> int:
    try:
        return MINOR_UNITS[currency.upper()]
    except KeyError:
        raise UnknownCurrencyError(
            f"unknown currency {currency!r}: add it with its ISO 4217 minor unit to usagebill.money.MINOR_UNITS"
        ) from None


def to_decimal(value: object) -> Decimal:
    """Convert str/int/Decimal to Decimal. Floats are refused: they cannot hold money exactly."""
    if isinstance(value, float):
        raise TypeError(f"refusing float {value!r} for money: pass a string or Decimal")
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round once to the currency's minor unit, half-up (away from zero)."""
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return to_decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount already rounded to the minor unit, as an integer count of minor units (Stripe's `amount`)."""
    rounded = round_money(amount, currency)
    if rounded != to_decimal(amount):
        raise ValueError(f"{amount} {currency} is not rounded to the minor unit; round it first")
    return int(rounded.scaleb(minor_unit(currency)))


@dataclass(frozen=True, order=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", self.currency.upper())
        minor_unit(self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
