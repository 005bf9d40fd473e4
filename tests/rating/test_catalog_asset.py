"""The Dagster asset ["raw", "catalog"]: writes the normalized catalog; fails with the validation
message (file: path: problem) and writes nothing when the catalog is invalid."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.defs.catalog import CATALOG, defs, raw_catalog
from tests.isolation import isolate_paths

from .scenario_events import SCENARIO_DIR

pytestmark = pytest.mark.slow  # materializes a Dagster asset


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(SCENARIO_DIR, catalog)
    monkeypatch.setenv("USAGEBILL_CATALOG_DIR", str(catalog))
    isolate_paths(tmp_path, monkeypatch, warehouse="w.duckdb")
    return tmp_path


def test_asset_writes_catalog_tables(env: Path) -> None:
    assert defs.resolve_asset_graph().get_all_asset_keys() == {CATALOG}
    result = dg.materialize([raw_catalog])
    assert result.success
    written = sorted(p.name for p in (env / "raw" / "catalog").iterdir())
    assert "plan_charges.parquet" in written and "credit_grants.parquet" in written
    metadata = result.asset_materializations_for_node("raw__catalog")[0].metadata
    assert (
        metadata["rows_subscriptions"].value == 49
    )  # 40 customers, one with a plan change (2 subscriptions)


def test_asset_fails_with_validation_message(env: Path) -> None:
    plans = env / "catalog" / "plans.yaml"
    plans.write_text(
        plans.read_text().replace(
            'unit_price: "0.01", unit_size: "1000"', 'unit_price: "0.01", unit_size: "-1"', 1
        )
    )
    result = dg.materialize([raw_catalog], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert (
        "plans.yaml: plans[0].versions[0].charges[0].unit_size: '-1' is not an exact decimal" in message
        or "plans.yaml: plans[0].versions[0].charges[0].unit_size: -1 must be greater than 0" in message
    )
    assert not (env / "raw" / "catalog").exists()
