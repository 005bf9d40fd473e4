{{ config(materialized='table', schema='marketplace') }}

{#- One row per report key (marketplace, tenant, customer, dimension, hour) with its current state, from the
    append-only ledger ledger.marketplace_reports: what was reported, when, with which metering record id,
    what remainder was carried, how many times it was sent. -#}

with reports as (
    select * from {{ ref('stg_marketplace__reports') }}
),

ranked as (
    select
        reports.*,
        row_number() over (
            partition by {{ marketplace_report_key() }} order by seq desc
        ) as recency
    from reports
),

history as (
    select
        {{ marketplace_report_key() }},
        min(recorded_at) as first_recorded_at,
        max(recorded_at) as last_recorded_at,
        cast(sum(case when state = 'sent' then 1 else 0 end) as bigint) as times_sent,
        cast(count(distinct run_id) as bigint) as runs
    from reports
    group by {{ marketplace_report_key() }}
),

final as (
    select
        ranked.marketplace,
        ranked.tenant_id,
        ranked.customer_id,
        ranked.marketplace_customer,
        ranked.offering_id,
        ranked.dimension,
        ranked.hour_start,
        ranked.state,
        ranked.counted as counted_as_reported,
        ranked.quantity,
        ranked.cumulative_units,
        ranked.carried_remainder,
        ranked.unit_price,
        cast({{ decimal_multiply('ranked.quantity', 'ranked.unit_price') }} as decimal(38, 12)) as reported_amount,
        ranked.currency,
        ranked.carried_to_hour,
        ranked.window_start,
        ranked.window_end,
        ranked.request_key,
        ranked.metering_record_id,
        ranked.detail,
        -- Duplicate answers: what we sent when the marketplace holds another quantity (flagged)
        ranked.sent_quantity,
        cast(ranked.sent_quantity - ranked.quantity as decimal(38, 12)) as quantity_difference,
        coalesce(ranked.sent_quantity != ranked.quantity, false) as quantity_differs,
        history.times_sent,
        history.runs,
        history.first_recorded_at,
        history.last_recorded_at
    from ranked
    inner join history
        on
            {{- marketplace_report_key_equal('ranked', 'history') }}
    where ranked.recency = 1
)

select * from final
