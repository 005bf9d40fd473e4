{{ config(materialized='table', schema='billing') }}

{#- Every rated line of every subscription period, the input of invoicing. Periods that ended by
    var('as_of_date') are rated in full; a period that has only started shows its in-advance
    lines. amount is full precision; amount_rounded is rounded once (half-up, currency minor
    unit); invoice totals are sums of amount_rounded. sequence_in_period numbers the lines of a
    (subscription, period) in the documented application order (application_step, then
    billing_timing, charge_id, dimensions_json, line_type). -#}

with period_lines as (
    select * from {{ ref('int_rating__period_lines') }}
),

credit_burn as (
    select * from {{ ref('int_rating__credit_burn') }}
    where used > 0
),

period_attributes as (
    select distinct
        subscription_id,
        period_start,
        tenant_id,
        customer_id,
        plan_id,
        plan_version,
        currency,
        minor_unit,
        period_end,
        service_start,
        service_end
    from period_lines
),

credit_lines as (
    select
        period_attributes.subscription_id,
        period_attributes.tenant_id,
        period_attributes.customer_id,
        period_attributes.plan_id,
        period_attributes.plan_version,
        period_attributes.currency,
        period_attributes.minor_unit,
        period_attributes.period_start,
        period_attributes.period_end,
        period_attributes.service_start,
        period_attributes.service_end,
        credit_burn.grant_id as charge_id,
        'Prepaid credit' as charge_name,
        'adjustment' as charge_type,
        cast(null as {{ dbt.type_string() }}) as meter_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        'credit_grant' as price_source,
        'prepaid_credit' as price_model,
        'credit_applied' as line_type,
        credit_burn.billing_timing,
        '{}' as dimensions_json,
        cast(1 as decimal(38, 12)) as quantity,
        cast(null as decimal(38, 12)) as unit_price,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        cast(-1 * credit_burn.used as decimal(38, 12)) as amount,
        7 as application_step,
        cast(-1 * credit_burn.used as decimal(38, 12)) as amount_rounded
    from credit_burn
    inner join period_attributes
        on
            credit_burn.subscription_id = period_attributes.subscription_id
            and credit_burn.period_start = period_attributes.period_start
),

all_lines as (
    select * from period_lines
    union all
    select * from credit_lines
),

final as (
    select
        {{ surrogate_key(['subscription_id', 'period_start', 'line_type', 'billing_timing', 'charge_id',
            'price_id', 'dimensions_json']) }} as billing_line_id,
        tenant_id,
        customer_id,
        subscription_id,
        plan_id,
        cast(plan_version as integer) as plan_version,
        charge_id,
        charge_name,
        charge_type,
        price_model,
        price_id,
        price_source,
        meter_id,
        line_type,
        billing_timing,
        period_start,
        period_end,
        service_start,
        service_end,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(unit_price as decimal(38, 12)) as unit_price,
        tier_breakdown_json,
        cast(amount as decimal(38, 12)) as amount,
        cast(amount_rounded as decimal(38, 12)) as amount_rounded,
        currency,
        cast(minor_unit as integer) as minor_unit,
        dimensions_json,
        cast(application_step as integer) as application_step,
        cast(row_number() over (
            partition by subscription_id, period_start
            order by application_step, billing_timing, charge_id, dimensions_json, line_type
        ) as integer) as sequence_in_period
    from all_lines
)

select * from final
