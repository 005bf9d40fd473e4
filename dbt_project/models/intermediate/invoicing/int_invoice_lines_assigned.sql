{#- Assigns every billing line to its invoice and rounds it once.
    Rule (docs/invoices.md): a line is billed on its billing date = the end of its billing period
    when billed in arrears, the first day it serves (service_start) when billed in advance. Lines of one customer, subscription
    and currency with the same billing date form one invoice, which closes (is issued) on
    billing date + invoice_grace_days; it is closed when that day <= as_of_date. -#}
{%- set as_of = var('as_of_date', run_started_at.strftime('%Y-%m-%d')) -%}
{%- set grace = var('invoice_grace_days', 3) | int -%}

with billing_lines as (
    select * from {{ ref('fct_billing_lines') }}
),

-- ISO 4217 minor units: the rounding of each line (seed)
currencies as (
    select currency, minor_unit
    from {{ ref('invoicing_currency_minor_units') }}
),

-- the prices with an allowance (included units) for the invoice to show
plan_charges as (
    select price_id, included_units
    from {{ ref('stg_catalog__plan_charges') }}
    where included_units is not null
),

dated as (
    select
        billing_lines.*,
        cast(case when billing_lines.billing_timing = 'in_advance' then billing_lines.service_start
            else billing_lines.period_end
        end as date) as billing_date
    from billing_lines
),

keyed as (
    select
        dated.*,
        'inv_' || substr(md5(
            dated.customer_id || '|' || coalesce(dated.subscription_id, '') || '|'
            || cast(dated.billing_date as {{ dbt.type_string() }}) || '|' || dated.currency
        ), 1, 24) as invoice_id,
        cast({{ add_interval('day', grace, 'dated.billing_date') }} as date) as issue_date,
        case dated.line_type
            when 'recurring_fee' then 1
            when 'proration' then 2
            when 'usage' then 3
            when 'trial_credit' then 4
            when 'discount' then 5
            when 'commitment_true_up' then 6
            when 'credit_applied' then 7
            else 9
        end as line_type_order
    from dated
),

rounded as (
    select
        keyed.*,
        -- the seed's minor unit (named apart: billing lines may carry their own minor_unit column)
        currencies.minor_unit as currency_minor_unit,
        plan_charges.included_units,
        {{ round_money('keyed.amount', 'currencies.minor_unit') }} as amount_line_rounded
    from keyed
    left join currencies on keyed.currency = currencies.currency
    left join plan_charges on keyed.price_id = plan_charges.price_id
),

final as (
    select
        invoice_id,
        billing_line_id,
        row_number() over (
            partition by invoice_id
            order by line_type_order, period_start, sequence_in_period, charge_id, billing_line_id
        ) as line_number,
        tenant_id,
        customer_id,
        subscription_id,
        plan_id,
        plan_version,
        charge_id,
        coalesce(charge_name, charge_id)
        || case
            when dimensions_json is null or dimensions_json in ('', '{}', 'null') then ''
            else ' (' || replace(replace(replace(replace(replace(replace(replace(
                    dimensions_json, '{', ''
                ), '}', ''), '"', ''), ': ', ':'), ', ', ','), ':', '='), ',', ', ') || ')'
        end as description,
        price_model,
        line_type,
        line_type_order,
        billing_timing,
        cast(service_start as date) as period_start,
        cast(service_end as date) as period_end,
        cast(period_start as date) as billing_period_start,
        cast(period_end as date) as billing_period_end,
        billing_date,
        issue_date,
        issue_date <= cast('{{ as_of }}' as date) as is_closed,
        cast(quantity as decimal(38, 12)) as quantity,
        case when line_type = 'usage' and included_units > 0 then included_units end as included_quantity,
        cast(unit_price as decimal(38, 12)) as unit_price,
        cast(amount as decimal(38, 12)) as amount_full_precision,
        amount_line_rounded as amount,
        currency,
        currency_minor_unit as minor_unit,
        dimensions_json,
        tier_breakdown_json
    from rounded
)

select * from final
