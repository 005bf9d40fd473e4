"""Partitions shared by every area, so that partition mappings line up across assets."""

from __future__ import annotations

import dagster as dg

# Usage is partitioned by arrival day (UTC). The demo history starts on 2026-05-01.
HISTORY_START = "2026-05-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC", end_offset=1)
