"""The demo generator: deterministic bytes, hand-countable tiny dataset, catalog format, cost design."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ingestion.demo_data import generate, main, tiny_events
from ingestion.events import ValidEvent, loads, validate_event

FIXTURE = Path(__file__).resolve().parents[2] / "ingestion" / "fixtures" / "tiny_usage.jsonl"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def landed_records(root: Path) -> list[tuple[str, dict]]:
    """Every landed record as (file, object) - JSON lines, CSV rows and Parquet rows."""
    out: list[tuple[str, dict]] = []
    for path in sorted((root / "landing" / "usage").rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.suffix == ".jsonl":
            out += [(name, loads(line)) for line in path.read_bytes().splitlines()]
        elif path.suffix == ".csv":
            with path.open(newline="") as handle:
                out += [(name, row) for row in csv.DictReader(handle)]
        elif path.suffix == ".parquet":
            out += [(name, row) for row in pq.read_table(path).to_pylist()]
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate(out, size="tiny", progress=lambda m: None)
    return out


def test_tiny_files_and_counts(tiny: Path) -> None:
    files = sorted(
        p.relative_to(tiny / "landing" / "usage").as_posix() for p in (tiny / "landing").rglob("*.*")
    )
    assert files == [
        "arrival_date=2026-10-29/events-0001.jsonl",
        "arrival_date=2026-10-30/events-0001.jsonl",
        "arrival_date=2026-10-30/events-0002.csv",
        "arrival_date=2026-10-31/events-0001.jsonl",
        "arrival_date=2026-10-31/events-0002.parquet",
    ]
    records = landed_records(tiny)
    # 541 unique valid events + 3 exact duplicates + 4 malformed (module docstring)
    assert len(records) == 548
    per_file = Counter(name.rsplit("/", 2)[-2] + "/" + name.rsplit("/", 1)[-1] for name, _ in records)
    # D1: 188 events (gpu b24 c6 d3 e24, api 10+20+5, storage 4x24) - 2 late = 186
    assert per_file["arrival_date=2026-10-29/events-0001.jsonl"] == 186
    # D2: 189 events (188 + cus_a's 2457 ms) - 35 of cus_c in the CSV + 1 late + 1 duplicate + 2 malformed
    assert per_file["arrival_date=2026-10-30/events-0001.jsonl"] == 158
    assert per_file["arrival_date=2026-10-30/events-0002.csv"] == 35  # 6 gpu + 5 api + 24 storage
    # D3: 188 - 24 gpu of cus_e... cus_e has no D3 events: 164 - 96 storage = 68, + late + 2 dups + 2 malformed
    assert per_file["arrival_date=2026-10-31/events-0001.jsonl"] == 73
    assert per_file["arrival_date=2026-10-31/events-0002.parquet"] == 96  # 4 customers x 24 hourly samples
    ids = Counter(r.get("event_id") for _, r in records)
    assert sorted(i for i, n in ids.items() if n > 1) == [
        "evt_cus_a_api_20261031_00",
        "evt_cus_b_gpu_20261029_00",
        "evt_cus_c_sto_20261030_00",
    ]


def test_tiny_fixture_is_the_generator_output() -> None:
    fixture = [loads(line) for line in FIXTURE.read_bytes().splitlines()]
    assert fixture == tiny_events()
    assert len(fixture) == 541


def test_tiny_quantities_by_hand() -> None:
    totals: dict[tuple[str, str], Decimal] = Counter()
    counts: Counter = Counter()
    for event in tiny_events():
        valid = validate_event(event)
        assert isinstance(valid, ValidEvent)
        counts[(valid.customer_id, valid.meter)] += 1
        totals[(valid.customer_id, valid.meter)] += Decimal(valid.quantity or "0")
    assert totals[("cus_a", "gpu_ms")] == 2457  # the source document's example
    assert totals[("cus_b", "gpu_ms")] == 72 * 1_000_000  # hourly for 3 days
    assert totals[("cus_c", "gpu_ms")] == 18 * 500_000  # every 4 hours: 6 a day
    assert totals[("cus_d", "gpu_ms")] == 9 * 2_000_000  # 3 a day
    assert totals[("cus_e", "gpu_ms")] == 48 * 100_000  # hourly, 2 days (churned 2026-10-31)
    assert counts[("cus_a", "api_calls")] == 30  # 10 a day
    assert counts[("cus_b", "api_calls")] == 60
    assert counts[("cus_c", "api_calls")] == 15
    assert ("cus_d", "api_calls") not in counts
    # hourly gauge samples: value x 72 hours = GB-hours
    assert totals[("cus_a", "storage_gb")] == Decimal("1.5") * 72 == 108
    assert totals[("cus_b", "storage_gb")] == 7200
    assert totals[("cus_c", "storage_gb")] == 18
    assert totals[("cus_d", "storage_gb")] == 144


def test_tiny_catalog_format(tiny: Path) -> None:
    customers = yaml.safe_load((tiny / "catalog" / "customers.yaml").read_text())["customers"]
    subs = yaml.safe_load((tiny / "catalog" / "subscriptions.yaml").read_text())["subscriptions"]
    assert [c["id"] for c in customers] == ["cus_a", "cus_b", "cus_c", "cus_d", "cus_e"]
    assert list(customers[0]) == [
        "id", "name", "email", "country", "currency", "customer_type", "tax_id", "tax_exempt", "created_at",
        "address",
    ]  # fmt: skip
    assert {c["id"]: c["currency"] for c in customers} == {
        "cus_a": "USD", "cus_b": "USD", "cus_c": "EUR", "cus_d": "JPY", "cus_e": "USD",
    }  # fmt: skip
    assert customers[2]["tax_id"] == "DE123456789"
    assert [c["id"] for c in customers if c["tax_exempt"]] == ["cus_e"]
    assert customers[0]["created_at"] == date(2026, 10, 1)
    assert isinstance(customers[0]["address"]["postal_code"], str)
    assert {s["customer_id"]: (s["plan_id"], s["end_date"]) for s in subs} == {
        "cus_a": ("payg", None),
        "cus_b": ("starter", None),
        "cus_c": ("payg_eur", None),
        "cus_d": ("payg_jpy", None),
        "cus_e": ("payg", date(2026, 10, 31)),
    }


def test_tiny_cost_export_by_hand(tiny: Path) -> None:
    with (tiny / "costs" / "focus-2026-10.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    gpu = sum(Decimal(r["BilledCost"]) for r in rows if r["x_UsagebillMeter"] == "gpu_ms")
    # a100-equivalent ms: a100 (2,457 + 18,000,000) x 1 + h100 72,000,000 x 2 + l4 13,800,000 x 0.4
    #   = 18,002,457 + 144,000,000 + 5,520,000 = 167,522,457 ms; x 0.0087 / 1000 = 1457.4453759
    assert gpu == Decimal("1457.4453759")
    fixed = [r for r in rows if r["x_CostKind"] == "fixed"]
    assert {r["x_UsagebillMeter"] for r in fixed} == {""}
    assert sum(Decimal(r["BilledCost"]) for r in fixed) == Decimal("4500") + Decimal("2750") + Decimal(
        "810.50"
    )


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 7), (b, 7), (c, 8)):
        generate(out, size="small", seed=seed, customers=25, progress=lambda m: None)
    digest_a = tree_digest(a)
    assert digest_a == tree_digest(b)
    assert digest_a != tree_digest(c)
    assert len([n for n in digest_a if n.startswith("landing/")]) > 100


@pytest.mark.slow
def test_small_dataset_shape(tmp_path: Path) -> None:
    report = generate(tmp_path, size="small", seed=42, progress=lambda m: None)
    customers = yaml.safe_load((tmp_path / "catalog" / "customers.yaml").read_text())["customers"]
    subs = yaml.safe_load((tmp_path / "catalog" / "subscriptions.yaml").read_text())["subscriptions"]
    assert len(customers) == 200
    currencies = Counter(c["currency"] for c in customers)
    assert currencies["JPY"] == 2
    assert 10 <= currencies["EUR"] <= 35  # ~10%
    assert sum(1 for c in customers if c["tax_exempt"]) == 1
    assert any(c["tax_id"] and c["currency"] == "EUR" for c in customers)
    assert min(c["created_at"] for c in customers) == date(2026, 5, 1)
    assert max(c["created_at"] for c in customers) > date(2026, 9, 1)  # sign-ups spread over time
    assert any(s["end_date"] for s in subs)  # churn and plan changes
    assert len(subs) > len(customers)  # plan changes start new subscriptions
    assert {s["plan_id"].removesuffix("_eur").removesuffix("_jpy") for s in subs} <= {
        "payg", "starter", "growth", "enterprise_annual",
    }  # fmt: skip
    assert 150_000 <= report.events <= 300_000
    # on purpose: ~0.5% duplicates, ~0.2% malformed, ~1% late
    assert 0.003 < report.duplicates / report.events < 0.007
    assert 0.001 < report.malformed / report.events < 0.003
    assert 0.006 < report.late / report.events < 0.012
    # GPU cost: exactly $0.0087 per 1K a100-equivalent ms over the whole history
    weights = {"a100": Decimal(1), "h100": Decimal(2), "l4": Decimal("0.4")}
    cost = equivalent_ms = Decimal(0)
    for path in sorted((tmp_path / "costs").glob("focus-*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["x_UsagebillMeter"] == "gpu_ms":
                    cost += Decimal(row["BilledCost"])
                    equivalent_ms += Decimal(row["ConsumedQuantity"]) * weights[row["SkuId"].split("-")[1]]
    assert cost / equivalent_ms * 1000 == Decimal("0.0087")
    assert len(list((tmp_path / "costs").glob("focus-*.csv"))) == 6  # May .. October


def test_cli_writes_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--size", "tiny", "--out", str(tmp_path)]) == 0
    assert "541 events (+3 duplicates, 4 malformed, 2 late) in 5 landing files" in capsys.readouterr().out


def test_demo_never_overwrites_a_users_catalog(tmp_path):
    """`make dev` / `make demo` regenerate the demo data; a price book the user edited stays as it is."""
    generate(tmp_path, size="tiny", seed=1)
    catalog = tmp_path / "catalog"
    plans = catalog / "plans.yaml"
    demo_plans = plans.read_bytes()
    # Untouched demo files are the demo's to rewrite: a second run leaves them byte-identical.
    generate(tmp_path, size="tiny", seed=1)
    assert plans.read_bytes() == demo_plans
    # The user edits a price: the next demo run keeps the edit and puts its own version beside it.
    edited = demo_plans + b"\n# my edit: price raised on 2026-12-01\n"
    plans.write_bytes(edited)
    (catalog / "my_deals.yaml").write_text("# the user's own file\n")
    generate(tmp_path, size="tiny", seed=1)
    assert plans.read_bytes() == edited
    assert (tmp_path / "demo_catalog" / "plans.yaml").read_bytes() == demo_plans
    assert (catalog / "my_deals.yaml").read_text() == "# the user's own file\n"
    # A file the user wrote before the demo ever ran is theirs too.
    other = tmp_path / "other"
    (other / "catalog").mkdir(parents=True)
    (other / "catalog" / "customers.yaml").write_text("customers: []\n")
    generate(other, size="tiny", seed=1)
    assert (other / "catalog" / "customers.yaml").read_text() == "customers: []\n"
    assert (other / "demo_catalog" / "customers.yaml").exists()
