{#- Lineage of every issued usage line, down to the journal events behind it (docs/invoices.md
    "Explain"): issued line (invoice or note) -> billing line (fct_billing_lines) -> the hourly usage
    rollup row (fct_usage_hourly: customer, meter, dimensions_key, hour_start) -> each journal
    event (fct_usage_journal) with its source and arrival time. One row per (issued line, event).
    Events are those rating counts today for the line's subscription, billing period, meter and
    group-by values (int_rating__usage_events); arrived_after_issue marks the ones that arrived on
    or after the document's issue date (late usage, corrected by a note). The journal columns come
    with the rated events (int_rating__usage_events carries them): no second join of the journal. -#}
{{ config(schema='billing', materialized='table', tags=['invoicing_lineage']) }}

with issued_lines as (
    select * from {{ ref('fct_issued_lines') }}
),

billing_lines as (
    select * from {{ ref('fct_billing_lines') }}
),

usage_events as (
    select * from {{ ref('int_rating__usage_events') }}
),

usage_lines as (
    select
        issued_lines.document_id,
        issued_lines.document_type,
        issued_lines.document_number,
        issued_lines.line_number,
        issued_lines.issue_date,
        issued_lines.source_invoice_id,
        issued_lines.billing_line_id,
        billing_lines.customer_id,
        billing_lines.subscription_id,
        billing_lines.plan_id,
        billing_lines.plan_version,
        billing_lines.charge_id,
        billing_lines.price_id,
        billing_lines.price_model,
        billing_lines.meter_id,
        billing_lines.period_start as billing_period_start,
        billing_lines.period_end as billing_period_end,
        billing_lines.dimensions_json
    from issued_lines
    inner join billing_lines on issued_lines.billing_line_id = billing_lines.billing_line_id
    where billing_lines.line_type = 'usage'
),

final as (
    select
        usage_lines.document_id,
        usage_lines.document_type,
        usage_lines.document_number,
        usage_lines.line_number,
        usage_lines.source_invoice_id,
        usage_lines.billing_line_id,
        usage_lines.customer_id,
        usage_lines.subscription_id,
        usage_lines.plan_id,
        usage_lines.plan_version,
        usage_lines.charge_id,
        usage_lines.price_id,
        usage_lines.price_model,
        usage_lines.meter_id,
        usage_lines.billing_period_start,
        usage_lines.billing_period_end,
        usage_lines.dimensions_json,
        usage_events.dimensions_key as rollup_dimensions_key,
        usage_events.event_hour as rollup_hour_start,
        usage_events.event_id,
        usage_events.event_ts,
        usage_events.quantity as event_quantity,
        usage_events.source as event_source,
        usage_events.arrived_at,
        usage_events.arrived_at >= cast(usage_lines.issue_date as timestamp) as arrived_after_issue
    from usage_lines
    inner join usage_events
        on usage_lines.subscription_id = usage_events.subscription_id
            and usage_lines.billing_period_start = usage_events.period_start
            and usage_lines.meter_id = usage_events.meter_id
            and usage_lines.dimensions_json = usage_events.dimensions_json
)

select * from final
