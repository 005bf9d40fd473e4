{{ config(materialized='view', schema='intermediate') }}

{#- Revenue per customer, month, SKU and plan, spread over the service period by days (the
    month's recognized revenue, int_analytics__mrr_lines_by_month = fct_revenue_recognition), not
    fees by invoice date. SKU: the meter of a usage charge, else the charge id. Plan: the plan of
    the invoice's subscription (fct_billing_lines). Reporting currency via analytics_fx_rates. -#}

with

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

mrr_lines as (
    select
        invoice_line_id,
        tenant_id,
        customer_id,
        month_start,
        currency,
        monthly_amount
    from {{ ref('int_analytics__mrr_lines_by_month') }}
),

revenue_lines as (
    select
        invoice_line_id,
        tenant_id,
        subscription_id,
        line_type
    from {{ ref('int_analytics__revenue_lines') }}
),

invoice_lines as (
    select invoice_line_id, charge_id from {{ ref('fct_invoice_lines') }}
),

billing_lines as (
    select
        tenant_id,
        charge_id,
        subscription_id,
        meter_id,
        plan_id
    from {{ ref('fct_billing_lines') }}
),

charge_meters as (
    select
        tenant_id,
        charge_id,
        min(meter_id) as meter_id
    from billing_lines
    group by 1, 2
),

subscription_plans as (
    select
        tenant_id,
        subscription_id,
        min(plan_id) as plan_id
    from billing_lines
    group by 1, 2
),

final as (
    select
        mrr_lines.tenant_id,
        mrr_lines.customer_id,
        mrr_lines.month_start,
        mrr_lines.currency,
        coalesce(charge_meters.meter_id, invoice_lines.charge_id, revenue_lines.line_type) as sku_id,
        charge_meters.meter_id,
        coalesce(subscription_plans.plan_id, '(no plan)') as plan_id,
        cast(sum(mrr_lines.monthly_amount) as decimal(38, 12)) as revenue,
        fx_rates.reporting_currency,
        sum({{ decimal_multiply('mrr_lines.monthly_amount', 'fx_rates.rate_to_reporting') }}) as revenue_reporting
    from mrr_lines
    inner join revenue_lines
        on mrr_lines.invoice_line_id = revenue_lines.invoice_line_id
    inner join invoice_lines
        on mrr_lines.invoice_line_id = invoice_lines.invoice_line_id
    left join charge_meters
        on
            revenue_lines.tenant_id = charge_meters.tenant_id
            and invoice_lines.charge_id = charge_meters.charge_id
    left join subscription_plans
        on
            revenue_lines.tenant_id = subscription_plans.tenant_id
            and revenue_lines.subscription_id = subscription_plans.subscription_id
    left join fx_rates
        on mrr_lines.currency = fx_rates.currency
    group by 1, 2, 3, 4, 5, 6, 7, 9
)

select * from final
