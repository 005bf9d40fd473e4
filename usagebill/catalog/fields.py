"""Path-aware field readers used by the catalog validator.

Each reader takes a `Node` (the file, the path inside it and the YAML value) and either returns
the parsed value or records a `CatalogIssue` and returns None. Amounts must be exact decimals
written as strings ("0.01") or integers; YAML floats are refused because their exact value is
already lost when the YAML is parsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from usagebill.catalog.errors import CatalogIssue

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
METER_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MAX_SCALE = 12
MAX_INTEGER_DIGITS = 26
PERCENT_MAX = Decimal(100)  # the catalog's one percentage scale: percent, 0..100 (docs/pricing.md)


@dataclass
class Issues:
    items: list[CatalogIssue] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, file: str, path: str, problem: str) -> None:
        """Record a problem; only the first one of a (file, path) is kept: one error per problem, so a
        refused value is not followed by "is required" or a check that reads the refused value."""
        if (file, path) in self._seen:
            return
        self._seen.add((file, path))
        self.items.append(CatalogIssue(file, path, problem))

    def has(self, file: str, path: str) -> bool:
        return (file, path) in self._seen


@dataclass(frozen=True)
class Node:
    file: str
    path: str
    value: Any
    issues: Issues

    def child(self, key: str | int) -> Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
            value = self.value[key]
        else:
            path = f"{self.path}.{key}" if self.path else key
            value = self.value.get(key) if isinstance(self.value, dict) else None
        # the frozen dataclass __init__ (one object.__setattr__ per field) was a third of the time
        # of validating 100,000 bulk customers; filling __dict__ directly gives the same Node
        node = object.__new__(Node)
        node.__dict__.update(file=self.file, path=path, value=value, issues=self.issues)
        return node

    def error(self, problem: str) -> None:
        self.issues.add(self.file, self.path, problem)

    # -- structure -------------------------------------------------------------------------
    def mapping(self, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()) -> bool:
        if not isinstance(self.value, dict):
            self.error(f"must be a mapping (key: value), got {type(self.value).__name__}")
            return False
        for key in sorted(set(self.value) - allowed, key=str):
            self.issues.add(
                self.file,
                f"{self.path}.{key}" if self.path else str(key),
                f"unknown field {key!r}; allowed fields: {', '.join(sorted(allowed))}",
            )
        for key in sorted(required):
            if self.value.get(key) is None:
                self.issues.add(self.file, f"{self.path}.{key}" if self.path else key, "is required")
        return True

    def items(self, required: bool = True) -> list[Node]:
        if self.value is None:
            if required:
                self.error("is required (a list)")
            return []
        if not isinstance(self.value, list):
            self.error(f"must be a list, got {type(self.value).__name__}")
            return []
        return [self.child(i) for i in range(len(self.value))]

    # -- scalars ---------------------------------------------------------------------------
    def _absent(self, required: bool, what: str) -> bool:
        """Is the value missing? A missing required value is an error saying what to write."""
        if self.value is not None:
            return False
        if required:
            self.error(f"is required {what}")
        return True

    def string(self, required: bool = False, pattern: re.Pattern[str] | None = None) -> str | None:
        if self.value is None:
            if required:
                self.error("is required")
            return None
        if isinstance(self.value, bool) or not isinstance(self.value, str | int):
            self.error(f"must be a string, got {type(self.value).__name__}")
            return None
        text = str(self.value)
        if pattern is not None and not pattern.fullmatch(text):
            self.error(f"{text!r} is not a valid id (letters, digits, _ . : -; must match {pattern.pattern})")
            return None
        return text

    def choice(self, options: tuple[str, ...], default: str | None = None) -> str | None:
        if self.value is None:
            if default is None:
                self.error(f"is required (one of {', '.join(options)})")
            return default
        if self.value not in options:
            self.error(f"{self.value!r} is not one of {', '.join(options)}")
            return None
        return str(self.value)

    def decimal(
        self,
        required: bool = False,
        minimum: Decimal | None = None,
        positive: bool = False,
        default: Decimal | None = None,
    ) -> Decimal | None:
        value = self.value
        if self._absent(required, '(an exact decimal written as a string, e.g. "0.01")'):
            return default
        if isinstance(value, float):
            self.error(_float_problem(value))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.error(f"must be an exact decimal string, got {type(value).__name__}")
            return None
        text = str(value).strip()
        if not DECIMAL_RE.fullmatch(text):
            self.error(f'{text!r} is not an exact decimal (digits with an optional "." fraction)')
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - regex guards this
            self.error(f"{text!r} is not a decimal")
            return None
        scale = -number.as_tuple().exponent if number.as_tuple().exponent < 0 else 0  # type: ignore[operator]
        if scale > MAX_SCALE:
            self.error(f"{text!r} has {scale} decimal places; at most {MAX_SCALE} are kept (DECIMAL(38,12))")
            return None
        if len(text.split(".")[0].lstrip("-")) > MAX_INTEGER_DIGITS:
            self.error(f"{text!r} has more than {MAX_INTEGER_DIGITS} integer digits (DECIMAL(38,12))")
            return None
        if positive and number <= 0:
            self.error(f"{text} must be greater than 0")
            return None
        if minimum is not None and number < minimum:
            self.error(f"{text} must be at least {minimum}")
            return None
        return number

    def percent(self, required: bool = False, maximum: Decimal = PERCENT_MAX) -> Decimal | None:
        """A percentage on the catalog's one scale: percent, from 0 to 100 ("2.9" = 2.9 %)."""
        number = self.decimal(required=required)
        if number is None:
            return None
        if not Decimal(0) <= number <= maximum:
            self.error(
                f"{format(number, 'f')} is outside the catalog's percent scale: write percentages in "
                f'percent from 0 to {maximum} ("2.9" = 2.9 %, "20" = 20 %)'
            )
            return None
        return number

    def integer(
        self,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        value = self.value
        if self._absent(required, "(an integer)"):
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"must be an integer, got {value!r}")
            return None
        if minimum is not None and value < minimum:
            self.error(f"{value} must be at least {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.error(f"{value} must be at most {maximum}")
            return None
        return value

    def boolean(self, default: bool = False) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            self.error(f"must be true or false, got {self.value!r}")
            return default
        return self.value

    def date(self, required: bool = False) -> date | None:
        value = self.value
        if self._absent(required, "(a date YYYY-MM-DD, UTC)"):
            return None
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value) if len(value) == 10 else _bad_date()
            except ValueError:
                pass
        self.error(f"{value!r} is not a date YYYY-MM-DD")
        return None


def _float_problem(value: float) -> str:
    """The message for a YAML float; the hint is only given when it is itself a valid amount."""
    if not math.isfinite(value):
        return f'{value!r} is not a number an amount can hold; write an exact decimal string such as "0.01"'
    hint = format(Decimal(repr(value)), "f")
    integer_digits = len(hint.split(".")[0].lstrip("-"))
    scale = len(hint.split(".")[1]) if "." in hint else 0
    if integer_digits <= MAX_INTEGER_DIGITS and scale <= MAX_SCALE:
        return f'{value!r} is a YAML float; write the amount as a quoted string, e.g. "{hint}"'
    return f"{value!r} is a YAML float; write the exact amount as a quoted decimal string (no exponent)"


def _bad_date() -> date:
    raise ValueError("not YYYY-MM-DD")
