"""Usage events of the scenario catalog (tests/rating/scenario): one customer per pricing case."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from ingestion.event_record import event_record
from usagebill.rating import RatingResult, rate

SCENARIO_DIR = Path(__file__).resolve().parent / "scenario"


def _event(n: list[int], *fields: Any, **named: Any) -> dict[str, Any]:
    """The next event of the scenario (ids ev00001, ev00002, ...): event_record's fields after its id."""
    n[0] += 1
    return event_record(f"ev{n[0]:05d}", *fields, **named)


def scenario_events() -> list[dict[str, Any]]:
    n = [0]
    e = _event
    may, june = "2026-05-10T13:47:00Z", "2026-06-10T10:00:00Z"
    out = [e(n, "c_src", "gpu_ms", may, "2457", {"gpu_type": "a100"})]
    for q, parts in ((1, ["1"]), (5, ["5"]), (6, ["6"]), (20, ["7", "13"]), (25, ["25"])):
        for part in parts:
            out.append(e(n, f"c_vol_{q}", "units", may, part))
            out.append(e(n, f"c_grad_{q}", "units", may, part))
    out += [e(n, "c_grad_flat", "units", may, "15"), e(n, "c_vol_flat", "units", may, "15")]
    out += [e(n, "c_lago", "units", may, "100"), e(n, "c_lago", "units", "2026-05-11T00:00:00Z", "101")]
    out += [e(n, "c_killbill", "units", f"2026-05-{day:02d}T08:00:00Z", "1") for day in range(1, 14)]
    for i, amount in enumerate(["100", "10", "5", "1000"]):
        out.append(e(n, "c_pct", "payments", f"2026-05-0{i + 1}T12:00:00Z", amount))
    for i, amount in enumerate(["30", "30", "100"]):
        out.append(e(n, "c_pct_free", "payments", f"2026-05-0{i + 1}T12:00:00Z", amount))
    # both free allowances (3 events, $500): the amount runs out first / the event count runs out first
    for i, amount in enumerate(["200", "200", "200", "50"]):
        out.append(e(n, "c_pct_both_amount", "payments", f"2026-05-0{i + 1}T12:00:00Z", amount))
    for i in range(4):
        out.append(e(n, "c_pct_both_count", "payments", f"2026-05-0{i + 1}T12:00:00Z", "10"))
    # block rounding (unit_size 100): 150 + 100 up; 250 down; 450 graduated up; 210 volume down
    out += [e(n, "c_block_up", "units", may, "150"), e(n, "c_block_up", "units", june, "100")]
    out[-1]["timestamp"] = "2026-05-20T00:00:00Z"
    out += [e(n, "c_block_down", "units", may, "250"), e(n, "c_block_grad", "units", may, "450")]
    out += [e(n, "c_block_vol", "units", may, "210")]
    # annual plan billing usage monthly: 3 calls in May, 4 in June; quarterly plan: 1 call in April,
    # 2 in May (monthly), 5 units in May (billed with the quarter)
    out += [e(n, "c_annual_monthly", "api_calls", may) for _ in range(3)]
    out += [e(n, "c_annual_monthly", "api_calls", june) for _ in range(4)]
    out += [e(n, "c_quarterly", "api_calls", "2026-04-10T00:00:00Z")]
    out += [e(n, "c_quarterly", "api_calls", may) for _ in range(2)]
    out += [e(n, "c_quarterly", "units", may, "5")]
    out += [e(n, "c_hybrid", "gpu_ms", may, "20000000", {"gpu_type": "a100"}) for _ in range(3)]
    out += [
        e(n, "c_dim", "gpu_ms", may, "1000000", {"gpu_type": "a100"}),
        e(n, "c_dim", "gpu_ms", may, "1000000", {"gpu_type": "h100"}),
        e(n, "c_dim", "gpu_ms", may, "500000", {"gpu_type": "l4"}),
    ]
    out += [
        e(n, "c_pooled", "gpu_ms", may, "1500", {"gpu_type": "a100"}),
        e(n, "c_pooled", "gpu_ms", may, "1500", {"gpu_type": "h100"}),
    ]
    out += [e(n, "c_trial", "api_calls", "2026-05-10T00:00:00Z") for _ in range(3)]
    out += [e(n, "c_trial", "api_calls", "2026-05-20T00:00:00Z") for _ in range(2)]
    out += [e(n, "c_trial_amount", "api_calls", may) for _ in range(3)]
    out += [e(n, "c_trial_amount", "api_calls", june) for _ in range(4)]
    out += [e(n, "c_commit", "api_calls", may) for _ in range(10)]
    out += [e(n, "c_commit", "api_calls", june) for _ in range(60)]
    out.append(e(n, "c_contract", "gpu_ms", may, "1000000", {"gpu_type": "a100"}))
    out.append(e(n, "c_jpy", "gpu_ms", may, "2457", {"gpu_type": "a100"}))
    out += [e(n, "c_jpy", "api_calls", may) for _ in range(5)]
    out += [e(n, "c_kwd", "api_calls", may) for _ in range(3)]
    out += [e(n, "c_versioned", "api_calls", may) for _ in range(3)]
    out += [e(n, "c_versioned", "api_calls", june) for _ in range(3)]
    out += [
        e(n, "c_meters", "region_calls", may, dimensions={"region": "eu"}),
        e(n, "c_meters", "region_calls", may, dimensions={"region": "eu"}),
        e(n, "c_meters", "region_calls", may, dimensions={"region": "us"}),
    ]
    out += [e(n, "c_meters", "peak_gb", may, q) for q in ("3", "7", "5")]
    out += [e(n, "c_meters", "active_users", may, "1", properties={"user": u}) for u in ("a", "b", "a")]
    out += [
        e(n, "c_meters", "seats", "2026-05-05T00:00:00Z", "4"),
        e(n, "c_meters", "seats", "2026-05-20T00:00:00Z", "9"),
    ]
    out += [e(n, "c_meters", "latency_ms", may, q) for q in ("1", "2", "6")]
    out += [
        e(n, "c_meters", "storage_gb", "2026-05-31T00:00:00Z", "10"),
        e(n, "c_meters", "storage_gb", "2026-05-31T12:00:00Z", "20"),
    ]
    out.append(e(n, "c_meters", "gpu_s", may, properties={"seconds": "2.457"}))
    out += [e(n, "c_usage_disc", "units", f"2026-05-{day:02d}T08:00:00Z", "1") for day in range(1, 14)]
    out += [e(n, "c_growth", "gpu_ms", may, "500000000", {"gpu_type": "h100"}) for _ in range(3)]
    return out


def write_jsonl(path: Path, events: list[dict[str, Any]], bad_lines: int = 0) -> Path:
    lines = [json.dumps(event, sort_keys=True) for event in events]
    lines += [
        json.dumps({"event_id": f"bad{i}", "customer_id": "c_src", "meter": "gpu_ms"})
        for i in range(bad_lines)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rate_events(
    catalog: Path, events: list[dict[str, Any]], start: date, end: date, workdir: Path, **options: Any
) -> RatingResult:
    """`usagebill rate` of `events` (written to workdir/usage.jsonl; `bad_lines` adds invalid ones)
    against `catalog` for the periods starting in [start, end), as of `end`, quietly; dbt's work
    stays in workdir/work."""
    usage = write_jsonl(workdir / "usage.jsonl", events, bad_lines=options.pop("bad_lines", 0))
    return rate(
        catalog, [usage], start, end, as_of=end, keep_dir=workdir / "work", progress=lambda m: None, **options
    )
