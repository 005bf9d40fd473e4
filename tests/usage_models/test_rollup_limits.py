"""Contract-valid quantities never overflow a rollup (issue 11).

The event contract caps one quantity below 10^18 (18 integer digits, 12 decimals); the rollups
are DECIMAL(38, 12) (26 integer digits). Two maximal quantities for one customer, meter and day
used to be two 26-digit values whose sum (27 digits) failed the daily and hourly rollups for
every customer. A value_property above the bound is excluded, not summed.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.usage_models import raw_fixtures as fx
from tests.usage_models.conftest import USAGE_MODELS

pytestmark = pytest.mark.slow

MAX_Q = "999999999999999999.999999999999"  # the largest contract-valid quantity


def test_maximal_quantities_sum_without_overflow(make_warehouse) -> None:
    wh = make_warehouse("limits")
    fx.write_catalog(wh.raw, {"meters": fx.METERS})
    at = "2026-05-01T10:15:00Z"
    rows = [fx.event(f"m{i}", "cus_big", "gpu_ms", at, MAX_Q, arrived=fx.A1) for i in range(3)]
    rows += [
        fx.event("other", "cus_small", "gpu_ms", at, "5", arrived=fx.A1),
        # 10^19 via the meter's value property: beyond the contract -> excluded, never summed
        fx.event(
            "prop",
            "cus_big",
            "gpu_ms",
            at,
            None,
            properties={"duration_ms": "10000000000000000000"},
            arrived=fx.A1,
        ),
    ]
    fx.write_events(wh.raw, fx.DAY1, "limits", rows)
    wh.dbt("build", USAGE_MODELS)
    # 3 x 999999999999999999.999999999999 = 2999999999999999999.999999999997 (by hand: 3 x 10^18
    # minus 3 x 10^-12)
    expected = Decimal("2999999999999999999.999999999997")
    daily = dict(wh.rows("select customer_id, quantity from usage.fct_usage_daily where meter_id = 'gpu_ms'"))
    assert daily == {"cus_big": expected, "cus_small": Decimal(5)}
    hourly = dict(
        wh.rows("select customer_id, quantity from usage.fct_usage_hourly where meter_id = 'gpu_ms'")
    )
    assert hourly == daily
    monthly = dict(
        wh.rows("select customer_id, quantity from usage.fct_usage_monthly where meter_id = 'gpu_ms'")
    )
    assert monthly == daily
    assert wh.rows("select event_id, exclusion_reason from usage.fct_usage_excluded_events") == [
        ("prop", "quantity_out_of_range")
    ]
