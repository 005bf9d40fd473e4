"""How the Python side calls the dbt command line: which executable, and where its files go."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_dbt() -> str | None:
    """The dbt installed beside this Python (the project's venv), else the one on PATH; None if neither."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt")


def dbt_path_args(project: Path, workdir: Path) -> list[str]:
    """Profiles and project from `project`; target and logs under `workdir` (one per concurrent run)."""
    return [
        "--profiles-dir",
        str(project),
        "--project-dir",
        str(project),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]


def scratch_duckdb_env(raw_dir: Path, warehouse: Path, **extra: str) -> dict[str, str]:
    """The environment of a dbt run into a scratch DuckDB file (`usagebill rate`, invoice recompute,
    pricing-lab candidates): raw layer and warehouse given, and always the `duckdb` target.

    USAGEBILL_ENGINE=spark picks the Spark target for the production build; a scratch run that
    inherited it would build in the production Spark metastore (USAGEBILL_SPARK_DIR) instead of
    its scratch file. Why scratch work stays on DuckDB: docs/spark.md, "What stays on DuckDB".
    """
    env = dict(os.environ)
    env.update(
        {
            "USAGEBILL_RAW_DIR": str(raw_dir),
            "USAGEBILL_WAREHOUSE": str(warehouse),
            "USAGEBILL_DBT_TARGET": "duckdb",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **extra,
        }
    )
    return env
