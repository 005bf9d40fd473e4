"""Issuer (seller) and tax-rate configuration: YAML in the catalog directory -> raw Parquet.

Files (format in docs/invoices.md):
- `<catalog_dir>/issuer.yaml`     -> `<raw_dir>/catalog/issuer.parquet`     (dbt source raw.catalog_issuer)
- `<catalog_dir>/tax_rates.yaml`  -> `<raw_dir>/catalog/tax_rates.parquet`  (dbt source raw.catalog_tax_rates)

When the catalog directory lacks a file, the example shipped in usagebill/invoices/examples/ is
used and a line saying so is printed (the demo generator copies only the pricing catalog).
Decimals are kept as strings holding exact decimals; dates as YYYY-MM-DD strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from usagebill.catalog.yaml_loader import DuplicateKeyError, load_yaml, yaml_error_location
from usagebill.paths import catalog_dir, raw_dir

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
ISSUER_FILE = "issuer.yaml"
TAX_RATES_FILE = "tax_rates.yaml"
COUNTRY = re.compile(r"^[A-Z]{2}$")
CUSTOMER_TYPES = {"business", "individual"}


class TaxConfigError(ValueError):
    """A configuration file breaks a rule; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    is_example: bool


def locate(name: str, directory: Path | None = None, *, announce: bool = True) -> ConfigFile:
    """The catalog's file if present, else the shipped example (announced on stdout)."""
    directory = catalog_dir() if directory is None else directory
    own = directory / name
    if own.exists():
        return ConfigFile(own, False)
    example = EXAMPLES_DIR / name
    if announce:
        print(f"invoices: {own} not found; using the example {example} (copy it to {directory} and edit it)")
    return ConfigFile(example, True)


def _read_yaml(path: Path, key: str) -> Any:
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as error:
        raise TaxConfigError(f"{path}: {yaml_error_location(error)}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise TaxConfigError(f"{path}: not valid YAML ({error}); fix the syntax") from None
    if not isinstance(document, dict) or key not in document:
        raise TaxConfigError(f"{path}: expected a top-level key `{key}:`")
    return document[key]


def _decimal(path: Path, where: str, value: Any) -> Decimal:
    if isinstance(value, float):
        raise TaxConfigError(f'{path}: {where} is a YAML float {value!r}; write it as a string, e.g. "20"')
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise TaxConfigError(f"{path}: {where} = {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise TaxConfigError(f'{path}: {where} = {value!r} is not a finite decimal; write e.g. "20"')
    return number


def _date(path: Path, where: str, value: Any, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise TaxConfigError(f"{path}: {where} is required (YYYY-MM-DD)")
        return None
    try:
        return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()
    except ValueError:
        raise TaxConfigError(f"{path}: {where} = {value!r} is not a date; use YYYY-MM-DD") from None


def _country(path: Path, where: str, value: Any, *, wildcard: bool = False) -> str:
    text = str(value or "").strip()
    if wildcard and text == "*":
        return text
    if not COUNTRY.match(text):
        raise TaxConfigError(f"{path}: {where} = {value!r} must be an ISO 3166-1 alpha-2 code such as FR")
    return text


def load_issuer(directory: Path | None = None, *, announce: bool = True) -> dict[str, Any]:
    """The validated issuer as a flat record (address kept as JSON)."""
    source = locate(ISSUER_FILE, directory, announce=announce)
    path = source.path
    raw = _read_yaml(path, "issuer")
    if not isinstance(raw, dict):
        raise TaxConfigError(f"{path}: `issuer:` must be a mapping of fields")
    for field in ("id", "legal_name", "address", "country", "tax_id", "invoice_prefix"):
        if not raw.get(field):
            raise TaxConfigError(f"{path}: issuer.{field} is required (see docs/invoices.md)")
    if not isinstance(raw["address"], dict):
        raise TaxConfigError(f"{path}: issuer.address must be a mapping (line1, city, postal_code, country)")
    terms = raw.get("payment_terms_days", 30)
    if not isinstance(terms, int) or isinstance(terms, bool) or terms < 0:
        raise TaxConfigError(f"{path}: issuer.payment_terms_days = {terms!r} must be a whole number >= 0")
    width = raw.get("number_width", 6)
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 12:
        raise TaxConfigError(f"{path}: issuer.number_width = {width!r} must be a whole number from 1 to 12")
    return {
        "issuer_id": str(raw["id"]),
        "legal_name": str(raw["legal_name"]),
        "address_json": json.dumps(raw["address"], sort_keys=True, default=str),
        "country": _country(path, "issuer.country", raw["country"]),
        "tax_id": str(raw["tax_id"]),
        "email": raw.get("email"),
        "invoice_prefix": str(raw["invoice_prefix"]),
        "credit_note_prefix": str(raw.get("credit_note_prefix") or "CN-" + str(raw["invoice_prefix"])),
        "number_width": width,
        "payment_terms_days": terms,
        "config_file": str(path),
    }


def load_tax_rates(directory: Path | None = None, *, announce: bool = True) -> list[dict[str, Any]]:
    """The validated tax rates, one record per rate version."""
    source = locate(TAX_RATES_FILE, directory, announce=announce)
    path = source.path
    raw = _read_yaml(path, "tax_rates")
    if not isinstance(raw, list) or not raw:
        raise TaxConfigError(f"{path}: `tax_rates:` must be a non-empty list")
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"tax_rates[{index}]"
        if not isinstance(item, dict) or not item.get("id"):
            raise TaxConfigError(f"{path}: {where} needs an `id`")
        rate_id = str(item["id"])
        if rate_id in seen:
            raise TaxConfigError(f"{path}: {where}.id {rate_id!r} is used twice; ids must be unique")
        seen.add(rate_id)
        if "rate" in item:
            raise TaxConfigError(
                f"{path}: {where}.rate: tax rates are written on the catalog's one percent scale; write "
                'percent: "20" for 20 % (from 0 to 100, docs/pricing.md "Percentages")'
            )
        if item.get("percent") is None:
            raise TaxConfigError(f'{path}: {where}.percent is required (percent from 0 to 100, "20" = 20 %)')
        percent = _decimal(path, f"{where}.percent", item.get("percent"))
        if not Decimal(0) <= percent < Decimal(100):
            raise TaxConfigError(
                f"{path}: {where}.percent = {format(percent, 'f')} is outside the catalog's percent scale: "
                'write tax rates in percent from 0 to below 100 ("20" = 20 %)'
            )
        rate = percent.scaleb(-2)  # stored as a fraction in raw.catalog_tax_rates.rate ("20" -> "0.20")
        customer_type = item.get("customer_type")
        if customer_type is not None and customer_type not in CUSTOMER_TYPES:
            raise TaxConfigError(f"{path}: {where}.customer_type must be business, individual or omitted")
        inclusive = item.get("inclusive", False)
        if not isinstance(inclusive, bool):
            raise TaxConfigError(f"{path}: {where}.inclusive must be true or false")
        valid_from = _date(path, f"{where}.valid_from", item.get("valid_from"), required=True)
        valid_to = _date(path, f"{where}.valid_to", item.get("valid_to"), required=False)
        if valid_to is not None and valid_from is not None and valid_to <= valid_from:
            raise TaxConfigError(f"{path}: {where}.valid_to must be after valid_from (half-open [from, to))")
        records.append(
            {
                "tax_rate_id": rate_id,
                "name": str(item.get("name") or rate_id),
                "country": _country(path, f"{where}.country", item.get("country"), wildcard=True),
                "state": (str(item["state"]) if item.get("state") else None),
                "customer_type": customer_type,
                "rate": format(rate, "f"),
                "inclusive": inclusive,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "note": item.get("note"),
            }
        )
    return records


def write_raw(
    directory: Path | None = None, out_dir: Path | None = None, *, announce: bool = True
) -> dict[str, Path]:
    """Validate both files and (re)write the raw Parquet tables; idempotent. Returns the paths written.

    `announce=False` keeps stdout clean (e.g. `usagebill rate --format json`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = (raw_dir() if out_dir is None else out_dir) / "catalog"
    out.mkdir(parents=True, exist_ok=True)
    issuer = load_issuer(directory, announce=announce)
    rates = load_tax_rates(directory, announce=announce)
    issuer_schema = pa.schema(
        [
            (name, pa.int64() if name in {"number_width", "payment_terms_days"} else pa.string())
            for name in issuer
        ]
    )
    rate_schema = pa.schema([(name, pa.bool_() if name == "inclusive" else pa.string()) for name in rates[0]])
    written = {
        "catalog_issuer": out / "issuer.parquet",
        "catalog_tax_rates": out / "tax_rates.parquet",
    }
    pq.write_table(pa.Table.from_pylist([issuer], schema=issuer_schema), written["catalog_issuer"])
    pq.write_table(pa.Table.from_pylist(rates, schema=rate_schema), written["catalog_tax_rates"])
    if announce:
        print(f"invoices: wrote {len(rates)} tax rates and issuer {issuer['issuer_id']!r} to {out}")
    return written
