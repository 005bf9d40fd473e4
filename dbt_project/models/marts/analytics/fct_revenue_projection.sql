{{ config(schema='analytics') }}

{#- A simple MRR projection with an uncertainty band (see doc revenue_projection): the last COMPLETE
    month's MRR (reporting currency) grown by the average month-over-month growth of the trailing 3
    months, compounded, for var('projection_months', 6) months. The band compounds, instead, a low
    and a high monthly growth rate: the nearest-rank percentiles var('projection_band_pct', 10) and
    100 - that of the MoM growth rates of the trailing var('projection_band_months', 12) complete
    months, widened if needed so that low <= central <= high. Actual months are included
    (is_projection = false, band = the actual MRR) so the series charts as one line. Not a forecast
    model: a documented extrapolation. All exact DECIMAL arithmetic (no standard deviation, no sqrt). -#}

{%- set horizon = var('projection_months', 6) | int -%}
{%- set band_pct = var('projection_band_pct', 10) | int -%}
{%- set band_months = var('projection_band_months', 12) | int -%}
{%- if band_pct < 0 or band_pct > 50 or band_months < 1 -%}
    {{ exceptions.raise_compiler_error(
        "projection_band_pct must be 0..50 (got " ~ band_pct ~ ") and projection_band_months >= 1 (got "
        ~ band_months ~ "): set them with dbt --vars") }}
{%- endif %}

with

growth as (
    select * from {{ ref('fct_mrr_growth') }}
    where not is_provisional
),

ranked as (
    select
        *,
        row_number() over (partition by reporting_currency order by month_start desc) as months_back
    from growth
),

trailing_growth as (
    select
        reporting_currency,
        max(case when months_back = 1 then month_start end) as last_month,
        max(case when months_back = 1 then mrr_reporting end) as last_mrr_reporting,
        {{ safe_divide(
            'sum(case when months_back <= 3 then mom_growth end)',
            'count(case when months_back <= 3 then mom_growth end)'
        ) }} as trailing_3m_growth
    from ranked
    group by 1
),

band_history as (
    {#- the trailing months' growth rates in ascending order (a month after a 0-MRR month has none) -#}
    select
        reporting_currency,
        mom_growth,
        row_number() over (partition by reporting_currency order by mom_growth, month_start) as growth_rank,
        count(*) over (partition by reporting_currency) as growth_months
    from ranked
    where months_back <= {{ band_months }} and mom_growth is not null
),

band_rates as (
    {#- nearest-rank percentile: the value at rank ceil(p / 100 x n), at least 1 -#}
    select
        reporting_currency,
        max(growth_months) as band_growth_months,
        max(case
            when growth_rank = greatest(1, ceil({{ band_pct }} * growth_months / 100.0)) then mom_growth
        end) as low_percentile_growth,
        max(case
            when growth_rank = greatest(1, ceil({{ 100 - band_pct }} * growth_months / 100.0)) then mom_growth
        end) as high_percentile_growth
    from band_history
    group by 1
),

rates as (
    select
        trailing_growth.reporting_currency,
        trailing_growth.last_month,
        trailing_growth.last_mrr_reporting,
        cast(coalesce(trailing_growth.trailing_3m_growth, 0) as decimal(38, 12)) as central_growth,
        cast(least(
            coalesce(band_rates.low_percentile_growth, 0), coalesce(trailing_growth.trailing_3m_growth, 0)
        ) as decimal(38, 12)) as low_growth,
        cast(greatest(
            coalesce(band_rates.high_percentile_growth, 0), coalesce(trailing_growth.trailing_3m_growth, 0)
        ) as decimal(38, 12)) as high_growth,
        cast(coalesce(band_rates.band_growth_months, 0) as integer) as band_growth_months
    from trailing_growth
    left join band_rates
        on trailing_growth.reporting_currency = band_rates.reporting_currency
),

actuals as (
    select
        growth.month_start,
        growth.reporting_currency,
        false as is_projection,
        growth.mrr_reporting,
        growth.mrr_reporting as mrr_low_reporting,
        growth.mrr_reporting as mrr_high_reporting,
        cast(null as decimal(38, 12)) as growth_rate_used,
        cast(null as decimal(38, 12)) as low_growth_rate,
        cast(null as decimal(38, 12)) as high_growth_rate,
        cast(null as integer) as band_growth_months
    from growth
),

projected as (
    {%- for k in range(1, horizon + 1) %}
        {%- set ns = namespace(central='rates.last_mrr_reporting', low='rates.last_mrr_reporting',
            high='rates.last_mrr_reporting') %}
        {%- for _ in range(k) %}
            {%- set ns.central = decimal_multiply(ns.central, '(1 + rates.central_growth)') %}
            {%- set ns.low = decimal_multiply(ns.low, '(1 + rates.low_growth)') %}
            {%- set ns.high = decimal_multiply(ns.high, '(1 + rates.high_growth)') %}
        {%- endfor %}
        select
            cast({{ add_interval('month', k, 'rates.last_month') }} as date) as month_start,
            rates.reporting_currency,
            true as is_projection,
            {{ ns.central }} as mrr_reporting,
            {{ ns.low }} as mrr_low_reporting,
            {{ ns.high }} as mrr_high_reporting,
            rates.central_growth as growth_rate_used,
            rates.low_growth as low_growth_rate,
            rates.high_growth as high_growth_rate,
            rates.band_growth_months
        from rates
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from actuals
    union all
    select * from projected
)

select * from final
