{#- Nothing is lost: every distinct (tenant_id, event_id) of the raw events is either in the
    journal or in the audit model fct_usage_excluded_events. Returns the missing events.
    A daily run checks the events that arrived in its window (the journal side is read whole:
    an event may have been journaled on an earlier day); a full refresh, a run without a window
    or --vars '{"usage_data_tests": "full"}' checks all history (macro usage_data_tests_window). -#}

with

raw_events as (
    select distinct
        tenant_id,
        event_id
    from {{ ref('stg_usage__events') }}
    where {{ usage_data_tests_window('arrival_date') }}
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
    where {{ usage_data_tests_window('arrival_date') }}
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
