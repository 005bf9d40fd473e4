{#- Flat recurring fees. In advance: rated once the period has started; in arrears: once it has
    ended. A period the subscription serves in full bills the fee (line_type recurring_fee);
    a partly served period (start or end inside it, e.g. a plan change) bills
    fee * service_days / period_days (line_type proration). Free-trial days inside the period are
    given back as a trial_credit line: -fee * trial_days_in_period / period_days. -#}

with recurring_prices as (
    select * from {{ ref('int_rating__prices_resolved') }}
    where
        charge_type = 'recurring'
        and ((billing_timing = 'in_advance' and is_started) or (billing_timing = 'in_arrears' and is_ended))
),

prices as (
    {#- products first, so the exact division works on plain columns -#}
    select
        recurring_prices.*,
        {{ decimal_multiply('recurring_prices.amount', 'recurring_prices.service_days') }} as fee_x_service_days,
        {{ decimal_multiply('recurring_prices.amount', 'recurring_prices.trial_days_in_period') }} as fee_x_trial_days
    from recurring_prices
),

fees as (
    select
        prices.*,
        case when prices.service_days = prices.period_days then 'recurring_fee' else 'proration' end as line_type,
        {{ safe_divide('prices.service_days', 'prices.period_days') }} as quantity,
        prices.amount as fee_unit_price,
        {{ safe_divide('prices.fee_x_service_days', 'prices.period_days') }} as line_amount
    from prices
),

trial_credits as (
    select
        prices.*,
        'trial_credit' as line_type,
        {{ safe_divide('prices.trial_days_in_period', 'prices.period_days') }} as quantity,
        prices.amount as fee_unit_price,
        -1 * {{ safe_divide('prices.fee_x_trial_days', 'prices.period_days') }}
            as line_amount
    from prices
    where prices.trial_days_in_period > 0
),

unioned as (
    select * from fees
    union all
    select * from trial_credits
),

final as (
    select
        {{ rating_period_columns() }},
        charge_id,
        charge_name,
        'recurring' as charge_type,
        cast(null as {{ dbt.type_string() }}) as meter_id,
        price_id,
        price_source,
        price_model,
        line_type,
        billing_timing,
        '{}' as dimensions_json,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(fee_unit_price as decimal(38, 12)) as unit_price,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        cast(line_amount as decimal(38, 12)) as amount
    from unioned
)

select * from final
