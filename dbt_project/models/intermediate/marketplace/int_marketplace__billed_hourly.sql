{#- What marketplace customers are billed, hour by hour: the increase of the cumulative billed amount
    per (tenant, customer, meter, usage dimensions, hour), AFTER free trials, included usage, prepaid credits
    and discounts. Customers are (tenant_id, customer_id): customer ids are unique per tenant only. The Python reporters turn its running sum into marketplace units:
      units due at hour H = cumulative billed amount through H / dimension unit price - units reported.

    Derivation (docs/marketplaces.md):
    1. Usage hours of each customer who has a marketplace identity, inside the service days of the
       RATING period that rates the meter (int_rating__rating_periods) and after the free trial (trial
       hours bill nothing): the billing period, or, for a usage charge billed monthly on a quarterly or
       annual plan (bill_charges_monthly), the usage month, so every month of such a plan is reported
       with its own prices, included units and final amounts, and each hour falls in one period only.
       A period is (subscription_id, period_start, period_end): a plan's first usage month starts on
       its billing period's first day.
    2. Provisional amount (open and ended periods): the per-unit price of the meter's charge applied to
       the cumulative period quantity after the included units, which are consumed first:
         cumulative billable amount(H) = max(0, cumulative quantity(H) - included_units) * unit_price / unit_size
       and each hour gets the increase of that cumulative amount.
    3. Ended periods (rated in billing.fct_billing_lines): the period's final billed amount of the meter,
       its usage and trial-credit lines plus its share of the period's discount and prepaid-credit lines
       (pro rata to the positive amount of the period), is spread over the hours in proportion to the
       provisional amounts (by quantity when the price is not per-unit), so the period's hours add up to
       exactly what was invoiced. When a period closes, the difference between the provisional and the
       final amounts is reported with the next reported hour. -#}

{%- set period_keys = ['subscription_id', 'period_start', 'period_end'] %}
{#- the grain of usage.fct_usage_hourly, kept to the end -#}
{%- set hour_key = ['tenant_id', 'customer_id', 'meter_id', 'dimensions_json', 'hour_start'] %}

with usage_hourly as (
    select
        {{ hour_key | join(',\n        ') }},
        quantity
    from {{ ref('fct_usage_hourly') }}
),

periods as (
    select
        tenant_id,
        customer_id,
        subscription_id,
        period_start,
        period_end,
        service_start,
        service_end,
        trial_end,
        is_ended,
        is_usage_month,
        currency
    from {{ ref('int_rating__rating_periods') }}
),

prices as (
    select
        subscription_id,
        period_start,
        period_end,
        meter_id,
        price_model,
        dimension_value,
        unit_price,
        unit_size,
        included_units
    from {{ ref('int_rating__prices_resolved') }}
    where charge_type = 'usage'
),

billing_lines as (
    select
        subscription_id,
        period_start,
        period_end,
        meter_id,
        line_type,
        amount
    from {{ ref('fct_billing_lines') }}
),

marketplace_customers as (
    select distinct tenant_id, customer_id from {{ ref('stg_marketplace__identities') }}
),

meter_prices as (
    {#- the meters each rating period charges, with the per-unit price of the meter (none when it is
        priced otherwise: tiers, packages, dimensional prices) -#}
    select
        subscription_id,
        period_start,
        period_end,
        meter_id,
        max(case when price_model = 'per_unit' and dimension_value is null then unit_price end) as unit_price,
        max(case when price_model = 'per_unit' and dimension_value is null then unit_size end) as unit_size,
        max(case when price_model = 'per_unit' and dimension_value is null then included_units end)
            as included_units
    from prices
    group by subscription_id, period_start, period_end, meter_id
),

usage_in_periods as (
    select
        usage_hourly.tenant_id,
        usage_hourly.customer_id,
        usage_hourly.meter_id,
        usage_hourly.dimensions_json,
        usage_hourly.hour_start,
        cast(usage_hourly.quantity as decimal(38, 12)) as quantity,
        periods.subscription_id,
        periods.period_start,
        periods.period_end,
        periods.is_ended,
        periods.currency,
        meter_prices.unit_price,
        meter_prices.unit_size,
        coalesce(meter_prices.included_units, cast(0 as decimal(38, 12))) as included_units,
        {#- the period whose charges price the meter wins; an uncharged meter stays in its billing period -#}
        row_number() over (
            partition by periods.subscription_id, usage_hourly.meter_id, usage_hourly.dimensions_json, usage_hourly.hour_start
            order by
                case when meter_prices.meter_id is null then 1 else 0 end,
                case when periods.is_usage_month then 1 else 0 end
        ) as period_rank
    from usage_hourly
    inner join marketplace_customers
        on
            usage_hourly.tenant_id = marketplace_customers.tenant_id
            and usage_hourly.customer_id = marketplace_customers.customer_id
    inner join periods
        on
            usage_hourly.tenant_id = periods.tenant_id
            and usage_hourly.customer_id = periods.customer_id
            and usage_hourly.hour_start >= cast(periods.service_start as timestamp)
            and usage_hourly.hour_start < cast(periods.service_end as timestamp)
            and (periods.trial_end is null or usage_hourly.hour_start >= cast(periods.trial_end as timestamp))
    left join meter_prices
        on
            {{ keys_match(period_keys, 'periods', 'meter_prices') }}
            and usage_hourly.meter_id = meter_prices.meter_id
),

usage_in_period as (
    select * from usage_in_periods
    where period_rank = 1
),

cumulative as (
    select
        usage_in_period.*,
        sum(usage_in_period.quantity) over (
            partition by
                usage_in_period.subscription_id, usage_in_period.period_start, usage_in_period.period_end,
                usage_in_period.meter_id
            order by usage_in_period.hour_start, usage_in_period.dimensions_json
            rows between unbounded preceding and current row
        ) as cumulative_quantity
    from usage_in_period
),

provisional_cumulative as (
    select
        cumulative.*,
        case
            when cumulative.unit_price is null then cast(0 as decimal(38, 12))
            when cumulative.cumulative_quantity > cumulative.included_units
                then {{ price_times('cumulative.cumulative_quantity - cumulative.included_units',
                    'cumulative.unit_price', 'cumulative.unit_size') }}
            else cast(0 as decimal(38, 12))
        end as provisional_cumulative_amount
    from cumulative
),

provisional as (
    select
        provisional_cumulative.*,
        cast(provisional_cumulative_amount - coalesce(lag(provisional_cumulative_amount) over (
            partition by subscription_id, period_start, period_end, meter_id
            order by hour_start, dimensions_json
        ), 0) as decimal(38, 12)) as provisional_amount
    from provisional_cumulative
),

period_adjustments as (
    select
        subscription_id,
        period_start,
        period_end,
        sum(case when line_type in ('discount', 'credit_applied') then amount else 0 end) as adjustment_amount,
        sum(case when amount > 0 then amount else 0 end) as positive_amount
    from billing_lines
    group by subscription_id, period_start, period_end
),

meter_billed as (
    select
        subscription_id,
        period_start,
        period_end,
        meter_id,
        sum(case when amount > 0 then amount else 0 end) as meter_positive_amount,
        sum(amount) as meter_amount
    from billing_lines
    where meter_id is not null and line_type in ('usage', 'trial_credit')
    group by subscription_id, period_start, period_end, meter_id
),

final_amounts as (
    select
        meter_billed.subscription_id,
        meter_billed.period_start,
        meter_billed.period_end,
        meter_billed.meter_id,
        cast(meter_billed.meter_amount + case
            when period_adjustments.positive_amount > 0
                then {{ safe_divide(decimal_multiply('period_adjustments.adjustment_amount',
                    'meter_billed.meter_positive_amount'), 'period_adjustments.positive_amount') }}
            else 0
        end as decimal(38, 12)) as final_amount
    from meter_billed
    inner join period_adjustments
        on
            {{ keys_match(period_keys, 'meter_billed', 'period_adjustments') }}
),

weighted as (
    select
        provisional.*,
        sum(provisional.provisional_amount) over (
            partition by provisional.subscription_id, provisional.period_start, provisional.period_end, provisional.meter_id
        ) as provisional_total,
        sum(provisional.quantity) over (
            partition by provisional.subscription_id, provisional.period_start, provisional.period_end, provisional.meter_id
        ) as quantity_total,
        final_amounts.final_amount
    from provisional
    left join final_amounts
        on
            {{ keys_match(period_keys + ['meter_id'], 'provisional', 'final_amounts') }}
),

final as (
    select
        {{ hour_key | join(',\n        ') }},
        subscription_id,
        period_start,
        period_end,
        quantity as usage_quantity,
        provisional_amount,
        cast(case
            when not is_ended then provisional_amount
            when final_amount is null then cast(0 as decimal(38, 12))
            when provisional_total > 0
                then {{ safe_divide(decimal_multiply('final_amount', 'provisional_amount'), 'provisional_total') }}
            when quantity_total > 0
                then {{ safe_divide(decimal_multiply('final_amount', 'quantity'), 'quantity_total') }}
            else cast(0 as decimal(38, 12))
        end as decimal(38, 12)) as billed_amount,
        is_ended as is_final,
        currency
    from weighted
)

select * from final
