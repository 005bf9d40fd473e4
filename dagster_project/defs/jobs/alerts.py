"""Report a failed run: a run-failure sensor writes one JSON line per failed run to
``<reports dir>/alerts/failed_runs.jsonl`` and, when ``USAGEBILL_ALERT_WEBHOOK_URL`` is set, posts
the same JSON to it (Slack/Teams/PagerDuty-style incoming webhook; 10 s timeout, never retried by
the sensor so a dead webhook cannot stall the daemon). The sensor runs under `dagster-daemon`
(`make dev` starts it with the UI)."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from usagebill.paths import reports_dir

WEBHOOK_ENV = "USAGEBILL_ALERT_WEBHOOK_URL"


def failure_alert(run_id: str, job_name: str, message: str, tags: dict[str, str]) -> dict[str, Any]:
    """The alert for one failed run: what failed, when, and where to look next."""
    return {
        "alerted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "job_name": job_name,
        "partition_range": {
            key.rsplit("/", 1)[-1]: value
            for key, value in tags.items()
            if key
            in (
                "dagster/partition",
                "dagster/asset_partition_range_start",
                "dagster/asset_partition_range_end",
            )
        },
        "error": message[:2000],
        "next_step": f"open the Dagster UI (make dev), Runs -> {run_id}, fix the cause and re-execute from failure",
    }


def deliver_alert(alert: dict[str, Any], alerts_dir: Path | None = None) -> Path:
    """Append the alert to the alert file and post it to the webhook when one is configured."""
    alerts_dir = alerts_dir or reports_dir() / "alerts"
    alerts_dir.mkdir(parents=True, exist_ok=True)
    path = alerts_dir / "failed_runs.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert, sort_keys=True) + "\n")
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        request = urllib.request.Request(
            url, data=json.dumps(alert).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured by the operator)
            response.read()
    return path


@dg.run_failure_sensor(
    name="report_failed_runs",
    description="Reports every failed run (the daily billing run and the hourly marketplace run among them) "
    f"to reports/alerts/failed_runs.jsonl and to ${WEBHOOK_ENV} when set.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def report_failed_runs(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    alert = failure_alert(run.run_id, run.job_name, context.failure_event.message or "", dict(run.tags))
    path = deliver_alert(alert)
    context.log.error(f"run {run.run_id} of {run.job_name} failed; alert written to {path}")
