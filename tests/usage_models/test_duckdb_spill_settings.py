"""DuckDB's bounded memory (dbt_project/profiles.yml): after a statement has spilled to the temp
directory, dbt-duckdb's next cursor must still open. dbt-duckdb runs `SET <key> = ...` for every
profile `settings` entry on each new cursor, and DuckDB refuses `SET temp_directory` once that
directory has been used (even to the same path); the 10M-event month close failed on it. The
profile's duckdb output is rendered here as dbt renders it and opened with dbt-duckdb's own
LocalEnvironment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.adapters.duckdb.environments.local import LocalEnvironment

PROFILES = Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml"


def duckdb_output(env: dict[str, str]) -> dict[str, Any]:
    def env_var(name: str, default: str | None = None) -> str:
        return env.get(name, default)  # type: ignore[return-value]

    renderer = jinja2.Environment()
    renderer.filters.update(
        as_number=lambda v: v, as_bool=lambda v: v, as_native=lambda v: v
    )  # dbt's filters
    rendered = renderer.from_string(PROFILES.read_text()).render(env_var=env_var)
    return yaml.safe_load(rendered)["usagebill"]["outputs"]["duckdb"]


def test_a_new_cursor_opens_after_a_spill(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    output = duckdb_output(
        {
            "USAGEBILL_WAREHOUSE": str(tmp_path / "w.duckdb"),
            "USAGEBILL_DUCKDB_MEMORY_LIMIT": "128MB",
            "USAGEBILL_DUCKDB_TEMP_DIR": str(spill),
        }
    )
    creds = DuckDBCredentials(
        path=output["path"],
        config_options=output.get("config_options"),
        settings=output.get("settings"),
    )
    environment = LocalEnvironment(creds)
    first = environment.handle().cursor()
    # 3M rows of 32-character text sorted under a 128 MB limit: ~200 MB of keys, so the sort spills
    first.execute(
        "create table t as select range as i, md5(range::varchar) as s from range(3000000) order by s"
    )
    assert first.execute("select count(*) from t").fetchone() == (3_000_000,)
    assert first.execute("select current_setting('memory_limit')").fetchone()[0] == "122.0 MiB"
    # the next model's cursor (dbt opens one per model): this raised before the fix
    second = environment.handle().cursor()
    assert second.execute("select current_setting('temp_directory')").fetchone() == (str(spill),)
    environment.close()
