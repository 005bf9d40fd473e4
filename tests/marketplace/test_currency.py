"""Marketplace quantities are computed in the listing currency (USD): a customer billed in EUR is
converted through the dated rates table, or refused with a clear error (never EUR / a USD price)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from exports.fakes.aws_metering import FakeAwsMetering
from exports.marketplace.aws import AwsMeteringTransport, make_client
from exports.marketplace.billable import BilledHour, BilledSeries
from exports.marketplace.fx import CurrencyConversionError, load_fx_rates
from exports.marketplace.ledger import Ledger

from .conftest import H0, Clock, aws_ident, dim, make_catalog, report_quietly

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "usagebill" / "marketplace_examples" / "marketplace_fx_rates.csv"
)


def test_example_rates_pick_the_latest_effective_date():
    fx = load_fx_rates(EXAMPLE)
    assert fx.rate("EUR", "USD", date(2026, 5, 10)) == Decimal("1.0850")
    assert fx.rate("EUR", "USD", date(2026, 8, 1)) == Decimal("1.0920")  # effective that day
    assert fx.rate("USD", "USD", date(2020, 1, 1)) == 1
    with pytest.raises(CurrencyConversionError, match="no EUR->USD rate effective on 2026-04-30"):
        fx.rate("EUR", "USD", date(2026, 4, 30))


def test_rates_file_errors_name_row_and_column(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text(
        "from_currency,to_currency,rate,effective_date,source\n"
        "eur,USD,1.08,2026-05-01,ecb\n"
        "EUR,USD,1.08e0,2026-05-01,ecb\n"
        "EUR,USD,1.08,2026-13-01,ecb\n"
    )
    with pytest.raises(ValueError) as err:
        load_fx_rates(path)
    message = str(err.value)
    assert "row 2: from_currency must be an ISO 4217 code" in message
    assert "row 3: rate must be a positive decimal" in message
    assert "row 4: effective_date must be a date" in message


def test_eur_customer_is_converted_to_usd_and_a_customer_without_rate_is_refused(isolated, fast_backoff):
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})  # USD 0.01 per unit
    eur, usd, jpy = aws_ident(1), aws_ident(2), aws_ident(3)
    series = BilledSeries(
        [
            BilledHour("cus_0001", "gpu_ms", (), H0, Decimal("719.11"), "EUR"),
            BilledHour("cus_0002", "gpu_ms", (), H0, Decimal("719.11"), "USD"),
            BilledHour("cus_0003", "gpu_ms", (), H0, Decimal("50"), "CHF"),  # no CHF->USD rate
        ],
        load_fx_rates(EXAMPLE),
    )
    clock = Clock(H0 + timedelta(hours=1, minutes=10))
    path = isolated / "wh.duckdb"
    with FakeAwsMetering({i.license_arn for i in (eur, usd, jpy)}, now=clock) as fake:
        transport = AwsMeteringTransport(make_client(endpoint_url=fake.url), backoff=fast_backoff, now=clock)
        with pytest.raises(CurrencyConversionError) as err:
            report_quietly("aws", [H0], catalog, [eur, usd, jpy], series, Ledger(path), transport, clock.now)
    assert "customer cus_0003: no CHF->USD rate effective on 2026-05-10" in str(err.value)
    # EUR 719.11 x 1.0850 USD/EUR = USD 780.23435 -> / 0.01 = 78,023 whole units (0.435 carried);
    # before the fix EUR 719.11 was reported as USD 719.11 = 71,911 units
    assert fake.quantities() == {
        ("000000000001", "gpu_usage", H0): 78023,
        ("000000000002", "gpu_usage", H0): 71911,
    }
    current = Ledger(path).current("aws")
    assert current[("aws", "default", "cus_0001", "gpu_usage", H0)].carried_remainder == Decimal("0.435")
    assert not any(key[1] == "cus_0003" for key in current)  # nothing planned: reported once a rate exists
