{{ config(severity='warn') }}
{#- Usage nobody pays for is never dropped silently: journal events of a customer (tenant_id,
    customer_id) that no subscription of that tenant serves at event_ts (inside the rated history) are listed here as a warning,
    per customer, meter and month, so the catalog can be fixed. -#}
with journal as (
    select * from {{ ref('fct_usage_journal') }}
),

periods as (
    select * from {{ ref('int_rating__subscription_periods') }}
),

rated_span as (
    select
        min(period_start) as first_start,
        max(period_end) as last_end
    from periods
),

unserved as (
    select
        journal.tenant_id,
        journal.customer_id,
        journal.meter_id,
        journal.event_ts
    from journal
    cross join rated_span
    where
        journal.event_ts >= rated_span.first_start
        and journal.event_ts < rated_span.last_end
        and not exists (
            select 1
            from periods
            where
                periods.tenant_id = journal.tenant_id
                and periods.customer_id = journal.customer_id
                and journal.event_ts >= periods.service_start
                and journal.event_ts < periods.service_end
        )
),

final as (
    select
        tenant_id,
        customer_id,
        meter_id,
        {{ trunc_to('month', 'event_ts') }} as usage_month,
        count(*) as event_count
    from unserved
    group by tenant_id, customer_id, meter_id, {{ trunc_to('month', 'event_ts') }}
)

select * from final
