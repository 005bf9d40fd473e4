{#- Nothing is lost: every distinct (tenant_id, event_id) of the raw events is either in the
    journal or in the audit model fct_usage_excluded_events. Returns the missing events. -#}

with

raw_events as (
    select distinct
        tenant_id,
        event_id
    from {{ ref('stg_usage__events') }}
),

journal as (
    select
        tenant_id,
        event_id
    from {{ ref('fct_usage_journal') }}
),

excluded as (
    select distinct
        tenant_id,
        event_id
    from {{ ref('fct_usage_excluded_events') }}
),

final as (
    select raw_events.*
    from raw_events
    left join journal
        on
            raw_events.tenant_id = journal.tenant_id
            and raw_events.event_id = journal.event_id
    left join excluded
        on
            raw_events.tenant_id = excluded.tenant_id
            and raw_events.event_id = excluded.event_id
    where journal.event_id is null and excluded.event_id is null
)

select * from final
