{{ config(severity='warn') }}
{#- Usage nobody pays for is never dropped silently: every event of billing.fct_unbilled_usage
    (no subscription at the event time, before start / after end, unknown meter, meter not priced,
    duplicate id with another payload, ...) is listed here as a warning per reason, customer, meter
    and month (a Dagster asset-check warning in the daily run), so the catalog or the sender can be
    fixed. Reasons by design (free_trial, meter_filter) are not warned about. -#}
with unbilled as (
    select * from {{ ref('fct_unbilled_usage') }}
    where reason not in ('free_trial', 'meter_filter')
),

final as (
    select
        reason,
        tenant_id,
        customer_id,
        meter_id,
        {{ trunc_to('month', 'event_ts') }} as usage_month,
        count(*) as event_count,
        sum(quantity) as quantity
    from unbilled
    group by reason, tenant_id, customer_id, meter_id, {{ trunc_to('month', 'event_ts') }}
)

select * from final
