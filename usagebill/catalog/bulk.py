"""Bulk customers, subscriptions and contract prices: CSV, Parquet or a PostgreSQL query.

YAML stays the way to write meters, plans and prices; a large customer base comes from a file
beside them (docs/pricing.md, "Bulk import"):

    <catalog>/customers.csv | customers.parquet
    <catalog>/subscriptions.csv | subscriptions.parquet
    <catalog>/contract_prices.csv | contract_prices.parquet

Each row becomes the same mapping a YAML list item would be and goes through the SAME validation
functions as the YAML files (usagebill.catalog.parse: customer_row, subscription_row,
contract_head, contract_price_row), so the rules and the messages are the same; the path of a
problem is the row: `customers.csv: line 7.currency: unknown currency 'EUX'; use an ISO 4217
code` (CSV: the file's line, the header being line 1; Parquet and SQL: `row N`, from 1).

Columns are the YAML field names. CSV cells are text: an empty cell is a missing value, integer
fields (billing_anchor_day, trial_days, free_events) and booleans (tax_exempt: true/false) are
converted before validation, `address_line1`, `address_line2`, `address_city`,
`address_postal_code`, `address_state`, `address_country` form the address, and `metadata` and a
contract price's `tiers` are JSON text. Contract prices are one row per price with the contract's
`contract_id`, `customer_id`, `effective_from`, `effective_to` repeated on each row.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from usagebill.catalog.fields import Issues, Node
from usagebill.catalog.parse import (
    CONTRACT_PRICE_FIELDS,
    CUSTOMER_FIELDS,
    SUBSCRIPTION_FIELDS,
    NormalizedCatalog,
    charges_by_id,
    contract_head,
    contract_price_row,
)

KINDS = ("customers", "subscriptions", "contract_prices")

SUFFIXES = (".csv", ".parquet")
MAX_FILE_BYTES = 2 * 2**30  # 2 GiB: well above 10 million customers in CSV
MAX_ROWS = 10_000_000
MAX_JSON_CHARS = 65_536
INTEGER_FIELDS = {"billing_anchor_day", "trial_days", "free_events"}
BOOLEAN_FIELDS = {"tax_exempt"}
JSON_FIELDS = {"metadata", "tiers"}
ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "state", "country")
CONTRACT_HEAD_FIELDS = ("contract_id", "tenant_id", "customer_id", "effective_from", "effective_to")
COLUMNS: dict[str, set[str]] = {
    "customers": (CUSTOMER_FIELDS - {"address"}) | {f"address_{part}" for part in ADDRESS_FIELDS},
    "subscriptions": set(SUBSCRIPTION_FIELDS),
    "contract_prices": set(CONTRACT_HEAD_FIELDS) | CONTRACT_PRICE_FIELDS,
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "currency"),
    "subscriptions": ("id", "customer_id", "plan_id", "start_date"),
    "contract_prices": ("contract_id", "customer_id", "effective_from", "charge_id"),
}
_INTEGER = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True)
class SqlSource:
    """Rows from a query on PostgreSQL, the DSN in $connection_env (ingestion/sources/sql_source.py)."""

    sql: str
    connection_env: str

    @property
    def name(self) -> str:
        return f"sql:{self.connection_env}"


Source = Path | SqlSource


def discover(directory: Path, issues: Issues) -> dict[str, Source]:
    """The bulk files of the catalog folder, by kind (customers.csv or customers.parquet...)."""
    found: dict[str, Source] = {}
    for kind in KINDS:
        present = [
            directory / f"{kind}{suffix}" for suffix in SUFFIXES if (directory / f"{kind}{suffix}").exists()
        ]
        if len(present) > 1:
            issues.add(present[1].name, "", f"both {present[0].name} and {present[1].name} exist; keep one")
        if present:
            found[kind] = present[0]
    return found


def _csv_value(column: str, text: str, node: Node) -> Any:
    if text == "":
        return None
    if column in INTEGER_FIELDS and _INTEGER.fullmatch(text.strip()):
        return int(text)
    if column in BOOLEAN_FIELDS and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    if column in JSON_FIELDS:
        return _json(text, column, node)
    return text  # the validator decides (an integer field holding "x" gets its usual message)


def _json(text: str, column: str, node: Node) -> Any:
    if len(text) > MAX_JSON_CHARS:
        node.child(column).error(f"is longer than {MAX_JSON_CHARS:,} characters")
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as error:
        node.child(column).error(
            f"is not JSON ({error.msg} at character {error.pos}); e.g. "
            + '[{"up_to": "1000", "unit_price": "0.1"}]'
        )
        return None


def _typed_value(column: str, value: Any, node: Node) -> Any:
    """A Parquet or SQL value: exact decimals become their text, empty text is missing."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value  # the validator refuses a timestamp where a date is expected
    if isinstance(value, str) and column in JSON_FIELDS:
        return _json(value, column, node)
    return value


def _raw_rows(
    source: Source, issues: Issues
) -> tuple[str, list[str], list[list[Any]], list[str], bool, list[tuple[str, str]]] | None:
    """(file name, header, columns (one list of raw values per header column), row labels, values
    are text, (row label, problem) of the CSV rows left out because their cell count differs from
    the header's) or None when unreadable."""
    if isinstance(source, SqlSource):
        from usagebill.postgres import fetch_rows

        rows = fetch_rows(source.connection_env, source.sql, what=f"bulk {source.name}", max_rows=MAX_ROWS)
        header = list(rows[0]) if rows else []
        values = [list(r.values()) for r in rows]
        columns = [list(c) for c in zip(*values, strict=True)] if values else [[] for _ in header]
        return source.name, header, columns, [f"row {i}" for i in range(1, len(rows) + 1)], False, []
    name = source.name
    if not source.exists():
        issues.add(name, "", f"file not found: {source}")
        return None
    if source.stat().st_size > MAX_FILE_BYTES:
        issues.add(name, "", f"is larger than {MAX_FILE_BYTES // 2**30} GiB; split it")
        return None
    if source.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(source)
        except (OSError, pa.ArrowException) as error:
            issues.add(name, "", f"is not a readable Parquet file: {error}")
            return None
        if table.num_rows > MAX_ROWS:
            issues.add(name, "", f"has {table.num_rows:,} rows; at most {MAX_ROWS:,} per file")
            return None
        for column_field in table.schema:
            if pa.types.is_floating(column_field.type):
                issues.add(
                    name,
                    f"column {column_field.name}",
                    f"is {column_field.type}: a binary float is not exact; store amounts as strings or DECIMAL",
                )
                table = table.drop_columns([column_field.name])
        columns = [table.column(i).combine_chunks() for i in range(table.num_columns)]  # Arrow arrays
        return (
            name,
            table.column_names,
            columns,
            [f"row {i}" for i in range(1, table.num_rows + 1)],
            False,
            [],
        )
    if source.suffix != ".csv":
        issues.add(name, "", "is neither .csv nor .parquet")
        return None
    rows: list[list[str]] = []
    labels: list[str] = []
    bad: list[tuple[str, str]] = []
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            width = len(header)
            for values in reader:
                if not any(values):  # an empty line, or only empty cells
                    continue
                if len(rows) == MAX_ROWS:
                    issues.add(name, "", f"has more than {MAX_ROWS:,} rows; split it")
                    return None
                if len(values) != width:
                    # left out, as its cells cannot be matched to columns; reported by read_table
                    bad.append((f"line {reader.line_num}", f"has {len(values)} cells, the header {width}"))
                    continue
                rows.append(values)
                labels.append(f"line {reader.line_num}")
        except (csv.Error, UnicodeDecodeError) as error:
            issues.add(name, f"line {reader.line_num}", f"is not readable CSV: {error}")
            return None
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
    return name, [h.strip() for h in header], columns, labels, True, bad


@dataclass
class BulkTable:
    """The rows of one bulk file, column by column: each kept column's raw values (CSV text, Parquet
    or SQL values) in file order, and each row's label (`line 7`, `row 3`). The row-wise view
    (`node`) is the YAML-shaped item the validation functions of parse.py read; the column-wise
    view (`columns`, `arrow`) is what usagebill/catalog/columnar.py validates at once."""

    name: str
    kind: str
    labels: list[str]
    cells: list[tuple[str, list[Any]]]  # (column, raw values) in header order, kept columns only
    text: bool
    issues: Issues

    def __post_init__(self) -> None:
        self._arrow: dict[str, Any] = {}
        for index, (column, values) in enumerate(self.cells):
            if hasattr(values, "to_pylist"):  # a Parquet column: keep the Arrow array as read
                if hasattr(values, "dictionary_decode"):  # a dictionary-encoded (categorical) column
                    values = values.dictionary_decode()
                self._arrow[column] = values
                self.cells[index] = (column, values.to_pylist())
        self.columns: dict[str, list[Any]] = dict(self.cells)

    def __len__(self) -> int:
        return len(self.labels)

    def convert(self, column: str, raw: Any, node: Node) -> Any:
        """A raw cell as the YAML item would hold it (None when missing); problems go on `node`."""
        return _csv_value(column, raw, node) if self.text else _typed_value(column, raw, node)

    def node(self, index: int) -> Node:
        """Row `index` as a Node shaped like the YAML item (conversion problems recorded on it)."""
        node = Node(self.name, self.labels[index], None, self.issues)
        item: dict[str, Any] = {}
        address: dict[str, Any] = {}
        for column, values in self.cells:
            value = self.convert(column, values[index], node)
            if value is None:
                continue
            if column.startswith("address_"):
                address[column.removeprefix("address_")] = value
            else:
                item[column] = value
        if address:
            item["address"] = address
        return Node(self.name, self.labels[index], item, self.issues)

    def nodes(self) -> list[Node]:
        return [self.node(index) for index in range(len(self))]

    def arrow(self, column: str) -> Any:
        """The column as a pyarrow Array, or None when the column is absent or its values do not
        make one Arrow type (SQL rows of mixed types): those rows then take the per-row path."""
        if column not in self._arrow:
            import pyarrow as pa

            values = self.columns.get(column)
            try:
                self._arrow[column] = (
                    None if values is None else pa.array(values, pa.string() if self.text else None)
                )
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                self._arrow[column] = None
        return self._arrow[column]


def read_table(source: Source | None, kind: str, issues: Issues) -> BulkTable | None:
    """The bulk file of `kind`, its header checked (unknown columns, required columns), or None when
    there is none or it cannot be read (the problem recorded)."""
    if source is None:
        return None
    read = _raw_rows(source, issues)
    if read is None:
        return None
    name, header, columns, labels, text, bad = read
    allowed = COLUMNS[kind]
    cells: list[tuple[str, list[Any]]] = []
    for column, values in zip(header, columns, strict=True):
        if column in allowed:
            cells.append((column, values))
        else:
            issues.add(
                name,
                f"column {column}",
                f"unknown column {column!r}; allowed columns: {', '.join(sorted(allowed))}",
            )
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in header]
    if missing:
        issues.add(name, "", f"required column(s) missing: {', '.join(missing)}")
        return None
    for label, problem in bad:
        issues.add(name, label, problem)
    return BulkTable(name, kind, labels, cells, text, issues)


def read_nodes(source: Source | None, kind: str, issues: Issues) -> list[Node]:
    """One Node per row, shaped like the YAML item, for the validation functions of parse.py."""
    table = read_table(source, kind, issues)
    return [] if table is None else table.nodes()


def bulk_contract_prices(
    source: Source | None,
    customers: dict[str, Any],
    plans: dict[str, Any],
    issues: Issues,
    out: NormalizedCatalog,
    yaml_contracts: list[tuple[Node, str | None]],
) -> None:
    """Contract prices, one per row, grouped into contracts by contract_id: every row of a contract
    must repeat the same customer_id, effective_from and effective_to. A contract id of
    contracts.yaml cannot be used again here."""
    taken = {ident: node.path for node, ident in yaml_contracts if ident is not None}
    first: dict[str, tuple[Node, tuple[Any, ...]]] = {}
    counts: dict[str, int] = {}
    by_charge = charges_by_id(out)
    for node in read_nodes(source, "contract_prices", issues):
        head = contract_head(node, customers, id_field="contract_id")
        contract_id = head[0]
        if contract_id is None:
            continue
        if contract_id in first:
            seen_node, seen_head = first[contract_id]
            for field, now, then in zip(CONTRACT_HEAD_FIELDS[1:], head[1:], seen_head[1:], strict=True):
                if now != then:
                    node.child(field).error(
                        f"{now} differs from {then} on {seen_node.path} of contract {contract_id!r}; "
                        "every row of a contract repeats its tenant_id, customer_id, effective_from and effective_to"
                    )
        else:
            first[contract_id] = (node, head)
            if contract_id in taken:
                node.child("contract_id").error(
                    f"duplicate contract id {contract_id!r} (first at contracts.yaml {taken[contract_id]})"
                )
        index = counts.get(contract_id, 0)
        counts[contract_id] = index + 1
        row = contract_price_row(node, f"{contract_id}:{index}", head, by_charge, plans, out)
        if row is not None:
            out.tables["contract_prices"].append(row)


def sources_for(directory: Path, given: Mapping[str, Source] | None, issues: Issues) -> dict[str, Source]:
    """The catalog folder's bulk files, replaced kind by kind by the ones given (CLI import)."""
    return discover(directory, issues) | dict(given or {})
