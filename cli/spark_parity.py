"""`make spark-parity`: the same dbt project on DuckDB and on Spark, relation by relation.

Steps (docs/spark.md):
1. generate a demo dataset (default tiny) into a work folder and load the raw layer for a first
   window of arrival days with the project's own Dagster loader assets;
2. `dbt build` on DuckDB, then on Spark (a first build: every incremental model created);
3. load the second window of arrival days (late events included) and `dbt build` both engines
   incrementally for that window (journal and rollups replace their partitions on Spark);
4. the last Spark run copies every relation to Parquet (macro export_relations_to_parquet, in
   the same Spark session), and DuckDB compares each with its own relation of the same name:
   same columns, values equal as text (exact decimals, UTC timestamps), rows as multisets.

Writes <out>/spark_parity.json (one entry per relation: relation, status identical|different, row
counts, differing columns) and exits 1 on any difference, 2 when a build fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from usagebill.dbt_cli import dbt_path_args, find_dbt
from usagebill.paths import PROJECT_ROOT, dbt_project_dir

# The tiny dataset's events arrive 2026-10-29 .. 2026-11-02 (ingestion/demo_data.py): the first
# window ends before the last arrival days, so the second one brings late events for old days.
HISTORY_START = date(2026, 5, 1)
SPLIT = date(2026, 10, 31)
AS_OF = date(2026, 11, 8)


@dataclass
class RelationParity:
    relation: str
    status: str
    duckdb_rows: int | None
    spark_rows: int | None
    differing_columns: list[str] = field(default_factory=list)
    detail: str = ""


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _env(work: Path, engine: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        USAGEBILL_DATA_DIR=str(work / "data"),
        USAGEBILL_RAW_DIR=str(work / "raw"),
        USAGEBILL_WAREHOUSE=str(work / "duckdb" / "usagebill.duckdb"),
        USAGEBILL_SPARK_DIR=str(work / "spark"),
        USAGEBILL_REPORTS_DIR=str(work / "reports"),
        USAGEBILL_ENGINE=engine,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DAGSTER_HOME=str(work / "dagster_home"),
    )
    env.pop("USAGEBILL_DBT_TARGET", None)
    return env


def load_raw(work: Path, first_day: date, last_day: date) -> None:
    """The project's raw loader assets (Dagster, in a child process) for arrival days first..last."""
    code = f"""
import dagster as dg
from dagster_project.definitions import defs
from dagster_project.defs.jobs import DAILY_BILLING_JOB
keys = [k for k in defs.resolve_asset_graph().get_all_asset_keys()
        if k.path[0] == 'raw' and k.path[1] != 'stripe_events']
result = defs.get_job_def(DAILY_BILLING_JOB).execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), asset_selection=keys,
    tags={{'dagster/asset_partition_range_start': '{first_day}', 'dagster/asset_partition_range_end': '{last_day}'}})
raise SystemExit(0 if result.success else 1)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(work, "duckdb"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"loading the raw layer failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def dbt_build(
    work: Path,
    engine: str,
    window: tuple[date, date],
    export_dir: Path | None = None,
    with_tests: bool = True,
) -> float:
    """`dbt build` of the whole project on `engine` for the arrival window; returns seconds taken."""
    dbt_vars: dict[str, Any] = {
        "min_date": window[0].isoformat(),
        "max_date": window[1].isoformat(),
        "as_of_date": AS_OF.isoformat(),
        # the copies of Spark views for the Python readers (docs/spark.md): this tool copies every
        # relation itself at the end (export_parquet_dir)
        "spark_view_copies": False,
    }
    if export_dir is not None:
        dbt_vars["export_parquet_dir"] = str(export_dir)
    run_dir = work / f"dbt_{engine}"
    # Data and unit tests run with the last window only (data tests read the final tables; Spark's
    # cost is per statement, and tests are three quarters of the nodes). The unit tests (the
    # `unit_tests:` of the models' yml) run on both engines: their fixtures are cast to the input
    # relations' column types, so they check the portable SQL with each engine's types.
    skipped = [] if with_tests else ["--exclude-resource-type", "unit_test", "test"]
    command = [
        find_dbt() or "dbt",
        "build",
        "--vars",
        json.dumps(dbt_vars),
        *skipped,
        *dbt_path_args(dbt_project_dir(), run_dir),
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, env=_env(work, engine), cwd=dbt_project_dir(), capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    (run_dir / f"build_{window[0]}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        failing = [ln for ln in done.stdout.splitlines() if "ERROR" in ln or "FAIL" in ln]
        print("\n".join(failing[-40:] or done.stdout.splitlines()[-40:]), file=sys.stderr)
        raise SystemExit(2)
    return seconds


def unit_test_results(work: Path, engine: str) -> dict[str, list[str]]:
    """The dbt unit tests of `engine`'s last build, by status (from dbt's run_results.json)."""
    path = work / f"dbt_{engine}" / "target" / "run_results.json"
    found: dict[str, list[str]] = {}
    if path.exists():
        for result in json.loads(path.read_text())["results"]:
            if result["unique_id"].startswith("unit_test."):
                found.setdefault(result["status"], []).append(result["unique_id"].rsplit(".", 1)[-1])
    return {status: sorted(names) for status, names in sorted(found.items())}


def _duckdb_relations(con: Any) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema not in ('ledger', 'information_schema', 'main') order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def _as_text(cols: list[str], types: dict[str, str]) -> str:
    """Columns as text. Spark's Parquet timestamps are UTC instants (TIMESTAMPTZ in DuckDB): back
    to UTC wall time first, as the DuckDB tables hold them."""
    return ", ".join(
        f'cast(timezone(\'UTC\', "{c}") as varchar) as "{c}"'
        if types[c] == "TIMESTAMP WITH TIME ZONE"
        else f'cast("{c}" as varchar) as "{c}"'
        for c in cols
    )


def _differs(
    con: Any, cols: list[str], left: tuple[str, dict[str, str]], right: tuple[str, dict[str, str]]
) -> bool:
    """Whether the two relations differ on `cols` as multisets of rows."""
    a = f"select {_as_text(cols, left[1])} from {left[0]}"
    b = f"select {_as_text(cols, right[1])} from {right[0]}"
    sql = f"select count(*) from (({a} except all {b}) union all ({b} except all {a}))"
    return con.execute(sql).fetchone()[0] > 0


def compare(duckdb_path: Path, export_dir: Path) -> list[RelationParity]:
    """Every DuckDB relation against Spark's copy of the same name (Parquet under export_dir)."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    results = []
    spark_names = {p.name for p in export_dir.iterdir() if p.is_dir()} if export_dir.exists() else set()
    names = sorted(set(_duckdb_relations(con)) | spark_names)
    for name in names:
        if name not in spark_names or name not in set(_duckdb_relations(con)):
            missing = "spark" if name not in spark_names else "duckdb"
            results.append(RelationParity(name, "different", None, None, [], f"missing on {missing}"))
            continue
        files = [str(p) for p in (export_dir / name).glob("*.parquet")]
        spark_rel = (
            f"read_parquet({files!r})"
            if files
            else f"(select * from {name} where false)"  # Spark wrote no file: no row
        )
        duck_types = dict(con.execute(f"select column_name, column_type from (describe {name})").fetchall())
        spark_types = dict(
            con.execute(
                f"select column_name, column_type from (describe select * from {spark_rel})"
            ).fetchall()
        )
        duck_cols = list(duck_types)
        duck_rows = con.execute(f"select count(*) from {name}").fetchone()[0]
        spark_rows = con.execute(f"select count(*) from {spark_rel}").fetchone()[0]
        if sorted(duck_cols) != sorted(spark_types):
            only = sorted(set(duck_cols) ^ set(spark_types))
            results.append(
                RelationParity(name, "different", duck_rows, spark_rows, only, "columns differ by name")
            )
            continue

        duck_side, spark_side = (name, duck_types), (spark_rel, spark_types)
        if not _differs(con, duck_cols, duck_side, spark_side):
            results.append(RelationParity(name, "identical", duck_rows, spark_rows))
        else:
            columns = [c for c in duck_cols if _differs(con, [c], duck_side, spark_side)]
            results.append(RelationParity(name, "different", duck_rows, spark_rows, columns, "values differ"))
    con.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill spark-parity", description=__doc__)
    parser.add_argument("--size", default="tiny", help="demo data size: tiny (default) | small")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "warehouse" / "spark_parity")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "warehouse" / "spark_parity.json")
    parser.add_argument(
        "--compare-only", action="store_true", help="compare the relations of an earlier run in --work"
    )
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    if args.compare_only:
        return _report(
            args, work, compare(work / "duckdb" / "usagebill.duckdb", work / "spark_export"), {}, []
        )
    if work.exists():
        shutil.rmtree(work)
    (work / "duckdb").mkdir(parents=True)
    (work / "spark" / "ledger").mkdir(parents=True)
    (work / "dagster_home").mkdir()
    (work / "dagster_home" / "dagster.yaml").touch()
    started = time.monotonic()

    _say(f"generating the {args.size} demo dataset into {work / 'data'}")
    from ingestion.demo_data import main as generate

    generate(["--size", args.size, "--seed", "42", "--out", str(work / "data")])
    windows = [(HISTORY_START, SPLIT), (SPLIT, AS_OF)]
    timings: dict[str, float] = {"duckdb": 0.0, "spark": 0.0}
    export_dir = work / "spark_export"
    for number, window in enumerate(windows, start=1):
        _say(f"window {number}: loading arrival days {window[0]} .. {window[1] - timedelta(days=1)}")
        load_raw(work, window[0], window[1] - timedelta(days=1))
        for engine in ("duckdb", "spark"):
            last = number == len(windows) and engine == "spark"
            _say(f"window {number}: dbt build on {engine}")
            seconds = dbt_build(
                work, engine, window, export_dir if last else None, with_tests=number == len(windows)
            )
            timings[engine] += seconds
            print(f"    {engine}: {seconds:.0f} s", flush=True)

    unit_tests = {engine: unit_test_results(work, engine) for engine in ("duckdb", "spark")}
    for engine, statuses in unit_tests.items():
        print(f"    {engine} unit tests: " + ", ".join(f"{len(v)} {k}" for k, v in statuses.items()))
    _say("comparing every relation")
    results = compare(work / "duckdb" / "usagebill.duckdb", export_dir)
    return _report(args, work, results, timings, windows, started, unit_tests)


def _report(
    args: argparse.Namespace,
    work: Path,
    results: list[RelationParity],
    timings: dict[str, float],
    windows: list[tuple[date, date]],
    started: float | None = None,
    unit_tests: dict[str, dict[str, list[str]]] | None = None,
) -> int:
    different = [r for r in results if r.status != "identical"]
    report = {
        "dataset": args.size,
        "windows": [[w[0].isoformat(), w[1].isoformat()] for w in windows],
        "as_of_date": AS_OF.isoformat(),
        "relations": len(results),
        "identical": len(results) - len(different),
        "different": len(different),
        "build_seconds": {k: round(v, 1) for k, v in timings.items()},
        "total_seconds": round(time.monotonic() - started, 1) if started else None,
        # dbt unit tests of the last window's build, per engine and status (names)
        "unit_tests": unit_tests or {},
        "results": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for r in different:
        print(f"    DIFFERENT {r.relation}: {r.detail} {', '.join(r.differing_columns)}")
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    print(
        f"{report['identical']} of {report['relations']} relations identical"
        + (f"; dbt builds: {seconds}" if seconds else "")
        + f"; report {args.out}"
    )
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
