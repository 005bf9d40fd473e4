"""The Stripe ledger's group commit (exports/stripe/ledger.py GroupCommit): rows queued by worker
threads while a commit runs go into the next transaction together, every caller returns only
once its row is committed, and a failed batch fails every caller whose row it held."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from exports.stripe.ledger import Ledger

GO = threading.Event()
GO.set()


class HeldCursor:
    """A cursor whose `begin transaction` waits for `release`: its caller leads a batch and holds it."""

    def __init__(
        self, cursor: duckdb.DuckDBPyConnection, release: threading.Event, fail: bool = False
    ) -> None:
        self.cursor, self.release, self.fail = cursor, release, fail

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "begin transaction":
            self.release.wait(10)
        return self.cursor.execute(sql, *args)

    def executemany(self, sql: str, rows: list[list[Any]]) -> Any:
        if self.fail:
            raise duckdb.IOException("disk full (injected)")
        return self.cursor.executemany(sql, rows)


def row(n: int) -> list[Any]:
    return [
        "run",
        "invoice",
        f"inv_{n}",
        f"inv_{n}",
        "finalize",
        "",
        None,
        f"key_{n}",
        "ok",
        None,
        None,
        None,
        datetime(2026, 11, 1),
    ]


def run_held_batch(ledger: Ledger, later_fail: bool) -> tuple[list[BaseException | None], int]:
    """Caller 0 leads a batch of its own row and holds it; callers 1-4 queue meanwhile; then release."""
    release = threading.Event()
    group = ledger.group_commit
    errors: list[BaseException | None] = [None] * 5

    def call(i: int) -> None:
        target = HeldCursor(ledger.con.cursor(), release if i == 0 else GO, fail=later_fail and i > 0)
        try:
            group.insert(target, row(i))  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - collected for the assertions
            errors[i] = error

    leader = threading.Thread(target=call, args=(0,))
    leader.start()
    while not group._leading:  # caller 0 took its one-row batch
        threading.Event().wait(0.005)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 5)]
    for thread in others:
        thread.start()
    while group._next < 5:  # callers 1-4 queued their rows behind the held batch
        threading.Event().wait(0.005)
    release.set()
    for thread in [leader, *others]:
        thread.join(10)
    return errors, group.batches


def test_rows_queued_during_a_commit_are_committed_together(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ledger = Ledger(con, "run")
    errors, batches = run_held_batch(ledger, later_fail=False)
    assert errors == [None] * 5
    # 5 rows, 2 transactions: caller 0's row alone, then the 4 rows queued while it was committing
    assert batches == 2
    ids = [r[0] for r in con.execute("select usagebill_id from ledger.stripe_exports order by 1").fetchall()]
    assert ids == ["inv_0", "inv_1", "inv_2", "inv_3", "inv_4"]


def test_a_failed_batch_fails_each_of_its_callers_and_commits_none_of_its_rows(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ledger = Ledger(con, "run")
    errors, batches = run_held_batch(ledger, later_fail=True)
    assert errors[0] is None and batches == 2
    # the second batch (callers 1-4) failed: its leader gets the database error, the 3 others an
    # error naming it; none of the 4 rows is in the ledger, so none of the 4 calls would be sent
    assert sum(isinstance(e, duckdb.IOException) for e in errors[1:]) == 1
    followers = [e for e in errors[1:] if isinstance(e, RuntimeError)]
    assert len(followers) == 3 and all("disk full (injected)" in str(e) for e in followers)
    assert con.execute("select count(*) from ledger.stripe_exports").fetchone() == (1,)
    with pytest.raises(duckdb.IOException):
        ledger.group_commit.insert(HeldCursor(con.cursor(), GO, fail=True), row(9))  # type: ignore[arg-type]
    # the ledger still works after a failed batch (no transaction left open)
    ledger.record("invoice", "inv_7", "finalize", "ok", "key_7")
    assert con.execute("select count(*) from ledger.stripe_exports").fetchone() == (2,)
