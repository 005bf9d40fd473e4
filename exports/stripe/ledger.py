"""The Stripe ledgers in the warehouse (schema `ledger`, append-only).

ledger.stripe_exports: one row per step attempt of the export. A step is written `started` before its API
call and `ok` / `recovered` / `failed` after it, with the deterministic idempotency key it used, so a re-run
knows which calls were acknowledged (skip), which are in doubt (look up in Stripe, then resend with the same
key) and which were never sent.

ledger.stripe_reconciliation: one row per check of a reconciliation run (see reconciliation.py).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

EXPORTS_DDL = """
create schema if not exists ledger;
create table if not exists ledger.stripe_exports (
    run_id varchar not null,
    entity varchar not null,          -- customer | invoice | debit_note | credit_note
    usagebill_id varchar not null,    -- customer_id / invoice_id / credit_note_id
    invoice_id varchar,               -- usagebill invoice the step belongs to (original invoice of a note)
    step varchar not null,            -- create_customer | create_invoice | add_item | finalize | create_credit_note
    line_key varchar not null,        -- add_item: line:<n> or tax:<rate>; '' otherwise
    stripe_object_id varchar,
    idempotency_key varchar not null,
    status varchar not null,          -- started | ok | recovered | failed | key_burned (never reuse that key)
    amount_minor bigint,
    currency varchar,
    detail varchar,
    recorded_at timestamp not null    -- UTC
);
"""

RECONCILIATION_DDL = """
create schema if not exists ledger;
create table if not exists ledger.stripe_reconciliation (
    run_id varchar not null,
    checked_at timestamp not null,    -- UTC
    invoice_id varchar,               -- usagebill invoice (null for the run summary row)
    stripe_invoice_id varchar,
    check_name varchar not null,      -- run_started | run | total | currency | status | lines | amount_due |
                                      -- credit_notes | credit_balance | warehouse | unknown_in_ledger
    expected varchar,
    actual varchar,
    ok boolean not null,
    detail varchar
);
alter table ledger.stripe_reconciliation add column if not exists customer_id varchar;
"""

DONE = ("ok", "recovered")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class StepRow:
    step: str
    line_key: str
    status: str
    stripe_object_id: str | None
    idempotency_key: str
    amount_minor: int | None
    recorded_at: datetime


INSERT_EXPORT = "insert into ledger.stripe_exports values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class GroupCommit:
    """Ledger rows of concurrent worker threads committed together, each caller returning only once
    its own row is committed (the write-ahead guarantee is unchanged: `started` is durable before
    the call is sent). One caller at a time leads: it takes every row queued so far and inserts them
    in one transaction on its own cursor; the callers that queued meanwhile wait, and one of them
    leads the next batch. A DuckDB commit costs ~3-15 ms here whatever it holds, and commits run one
    at a time: with two rows per API call, committing each row alone capped the export at ~60 calls/s
    whatever the number of workers (docs/benchmarks.md, "Stripe export")."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[list[Any]] = []
        self._leading = False
        self._next = 0  # sequence number of the next queued row
        self._done = 0  # rows with a sequence number below this are settled (committed or failed)
        self._failed: list[tuple[int, int, BaseException]] = []  # (first, end) of a batch that failed
        self.batches = 0

    def insert(self, cursor: duckdb.DuckDBPyConnection, row: list[Any]) -> None:
        with self._cond:
            seq = self._next
            self._next += 1
            self._queue.append(row)
            while self._done <= seq and self._leading:
                self._cond.wait()
            if self._done > seq:  # a leader settled our row
                for first, end, error in self._failed:
                    if first <= seq < end:
                        raise RuntimeError(f"the ledger batch holding this row failed: {error}") from error
                return
            batch, first, end = self._queue, self._done, self._next
            self._queue, self._leading = [], True
        error: BaseException | None = None
        try:
            cursor.execute("begin transaction")
            cursor.executemany(INSERT_EXPORT, batch)
            cursor.execute("commit")
        except BaseException as e:  # noqa: BLE001 - every waiting caller must learn it, then it is raised
            error = e
            with contextlib.suppress(duckdb.Error):
                cursor.execute("rollback")
        with self._cond:
            self._done, self._leading = end, False
            self.batches += 1
            if error is not None:
                self._failed.append((first, end, error))
            self._cond.notify_all()
        if error is not None:
            raise error


class Ledger:
    """Reads and appends ledger rows on an open DuckDB connection to the warehouse."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, write: bool = True) -> None:
        self.con = con
        self.run_id = run_id
        self.write = write
        con.execute(EXPORTS_DDL)
        con.execute(RECONCILIATION_DDL)
        # The exporter's worker threads each use their own cursor (a DuckDB connection to the same database):
        # a DuckDB connection is not safe to share between threads, and each autocommit insert waits for its
        # commit to reach the disk, so separate cursors let the threads' commits overlap instead of queueing.
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursor_lock = threading.Lock()
        self.group_commit = GroupCommit()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if threading.current_thread() is threading.main_thread():
            return self.con
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cursor = cur
            with self._cursor_lock:
                self._cursors.append(cur)
        return cur

    def close_cursors(self) -> None:
        with self._cursor_lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self._cursor().execute(sql, params or []).fetchall()

    def record(
        self,
        entity: str,
        usagebill_id: str,
        step: str,
        status: str,
        idempotency_key: str,
        *,
        invoice_id: str | None = None,
        line_key: str = "",
        stripe_object_id: str | None = None,
        amount_minor: int | None = None,
        currency: str | None = None,
        detail: str | None = None,
    ) -> None:
        if not self.write:
            return
        self.group_commit.insert(
            self._cursor(),
            [
                self.run_id,
                entity,
                usagebill_id,
                invoice_id,
                step,
                line_key,
                stripe_object_id,
                idempotency_key,
                status,
                amount_minor,
                currency,
                (detail or "")[:2000] or None,
                utc_now(),
            ],
        )

    def latest_steps(self, entity: str, usagebill_id: str) -> dict[tuple[str, str], StepRow]:
        """Latest row per (step, line_key) for one object; a `started` row means the call is in doubt."""
        rows = self._rows(
            """
            select step, line_key, status, stripe_object_id, idempotency_key, amount_minor, recorded_at
            from ledger.stripe_exports
            where entity = ? and usagebill_id = ?
            qualify row_number() over (partition by step, line_key order by recorded_at desc, status = 'started') = 1
            """,
            [entity, usagebill_id],
        )
        return {(r[0], r[1]): StepRow(*r) for r in rows}

    def burned_keys(self, entity: str, usagebill_id: str) -> set[str]:
        """Idempotency keys that must never be sent again: Stripe saved a 5xx for them (replayed for 24 h) or
        they created an object that was deleted in Stripe (the key would replay the deleted object)."""
        rows = self._rows(
            "select distinct idempotency_key from ledger.stripe_exports where entity = ? and usagebill_id = ? "
            "and status = 'key_burned'",
            [entity, usagebill_id],
        )
        return {r[0] for r in rows}

    def done_ids(self, entity: str, final_step: str) -> set[str]:
        rows = self._rows(
            "select distinct usagebill_id from ledger.stripe_exports where entity = ? and step = ? "
            "and status in ('ok', 'recovered')",
            [entity, final_step],
        )
        return {r[0] for r in rows}

    def stripe_id(self, entity: str, usagebill_id: str, step: str) -> str | None:
        rows = self._rows(
            "select stripe_object_id from ledger.stripe_exports where entity = ? and usagebill_id = ? and step = ? "
            "and status in ('ok', 'recovered') and stripe_object_id is not null order by recorded_at desc limit 1",
            [entity, usagebill_id, step],
        )
        return rows[0][0] if rows else None

    def exported_invoices(self) -> list[dict[str, Any]]:
        """Invoices (and debit notes) whose finalize step is acknowledged, with their Stripe invoice id."""
        rows = self._rows(
            """
            select entity, usagebill_id, stripe_object_id, amount_minor, currency, recorded_at
            from ledger.stripe_exports
            where entity in ('invoice', 'debit_note') and step = 'finalize' and status in ('ok', 'recovered')
            qualify row_number() over (partition by entity, usagebill_id order by recorded_at desc) = 1
            order by recorded_at, usagebill_id
            """
        )
        keys = ["entity", "usagebill_id", "stripe_invoice_id", "amount_minor", "currency", "finalized_at"]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def known_stripe_invoices(self) -> dict[str, set[str]]:
        """Every Stripe invoice id the ledger created or recovered, by usagebill invoice / debit note id."""
        rows = self._rows(
            "select usagebill_id, stripe_object_id from ledger.stripe_exports where entity in ('invoice', "
            "'debit_note') and step in ('create_invoice', 'finalize') and status in ('ok', 'recovered') "
            "and stripe_object_id is not null"
        )
        out: dict[str, set[str]] = {}
        for ub_id, stripe_id in rows:
            out.setdefault(ub_id, set()).add(stripe_id)
        return out

    def exported_credit_notes(self) -> list[dict[str, Any]]:
        rows = self._rows(
            """
            select usagebill_id, invoice_id, stripe_object_id, amount_minor, currency
            from ledger.stripe_exports
            where entity = 'credit_note' and step = 'create_credit_note' and status in ('ok', 'recovered')
            qualify row_number() over (partition by usagebill_id order by recorded_at desc) = 1
            """
        )
        keys = ["credit_note_id", "invoice_id", "stripe_credit_note_id", "amount_minor", "currency"]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- reconciliation
    def last_reconciliation_mismatches(self) -> list[dict[str, Any]]:
        # Only a COMPLETE run counts: its closing `run` row is written last, after every check. A run that
        # crashed or was killed has no `run` row, so it can neither clear nor set the gate.
        rows = self._rows(
            """
            with last_run as (
                select run_id from ledger.stripe_reconciliation where check_name = 'run'
                order by checked_at desc, run_id desc limit 1
            )
            select invoice_id, stripe_invoice_id, check_name, expected, actual, detail, checked_at, customer_id
            from ledger.stripe_reconciliation
            where run_id = (select run_id from last_run) and not ok and check_name not in ('run', 'run_started')
            order by invoice_id, check_name
            """
        )
        keys = [
            "invoice_id",
            "stripe_invoice_id",
            "check_name",
            "expected",
            "actual",
            "detail",
            "checked_at",
            "customer_id",
        ]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def record_check(
        self,
        run_id: str,
        checked_at: datetime,
        invoice_id: str | None,
        stripe_invoice_id: str | None,
        check_name: str,
        expected: object,
        actual: object,
        ok: bool,
        detail: str | None = None,
        customer_id: str | None = None,
    ) -> None:
        self._rows(
            "insert into ledger.stripe_reconciliation (run_id, checked_at, invoice_id, stripe_invoice_id, "
            "check_name, expected, actual, ok, detail, customer_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                checked_at,
                invoice_id,
                stripe_invoice_id,
                check_name,
                None if expected is None else str(expected),
                None if actual is None else str(actual),
                ok,
                detail,
                customer_id,
            ],
        )
