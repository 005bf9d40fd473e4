{{ config(tags=['invoicing_reconciliation']) }}
{#- Rated usage = journal totals: for every (customer, subscription, meter, billing period) with a
    usage billing line, the sum of the usage lines' quantities equals the journal total of that
    meter over the same half-open window [max(service_start, trial end), service_end).
    Checked for `sum` and `count` meters without dimension filters (other aggregations are not
    additive, filtered meters exclude events by design). Returns the mismatches. -#}

with billing_lines as (
    select tenant_id, customer_id, subscription_id, meter_id, period_start, service_start, service_end, quantity
    from {{ ref('fct_billing_lines') }}
    where line_type = 'usage'
),

journal as (
    select tenant_id, customer_id, meter_id, event_ts, quantity
    from {{ ref('fct_usage_journal') }}
),

subscriptions as (
    select subscription_id, start_date, trial_days
    from {{ ref('stg_catalog__subscriptions') }}
),

meter_filters as (
    select meter_id
    from {{ ref('stg_catalog__meter_filters') }}
),

-- the meters whose quantities add up over any window, without a dimension filter
additive_meters as (
    select meter_id, aggregation
    from {{ ref('stg_catalog__meters') }}
    where aggregation in ('sum', 'count')
        and meter_id not in (select meter_filters.meter_id from meter_filters)
),

rated as (
    select
        billing_lines.tenant_id,
        billing_lines.customer_id,
        billing_lines.subscription_id,
        billing_lines.meter_id,
        billing_lines.period_start,
        min(billing_lines.service_start) as service_start,
        max(billing_lines.service_end) as service_end,
        sum(billing_lines.quantity) as rated_quantity
    from billing_lines
    inner join additive_meters on billing_lines.meter_id = additive_meters.meter_id
    group by billing_lines.tenant_id, billing_lines.customer_id, billing_lines.subscription_id, billing_lines.meter_id, billing_lines.period_start
),

windows as (
    select
        rated.*,
        additive_meters.aggregation,
        greatest(
            cast(rated.service_start as timestamp),
            cast({{ add_interval('day', 'coalesce(subscriptions.trial_days, 0)', 'subscriptions.start_date') }} as timestamp)
        ) as window_start,
        cast(rated.service_end as timestamp) as window_end
    from rated
    inner join additive_meters on rated.meter_id = additive_meters.meter_id
    inner join subscriptions on rated.subscription_id = subscriptions.subscription_id
),

compared as (
    {#- per rated window: the rated quantity and the journal's total over the same window -#}
    select
        windows.tenant_id,
        windows.customer_id,
        windows.subscription_id,
        windows.meter_id,
        windows.period_start,
        windows.rated_quantity,
        case windows.aggregation
            when 'count' then cast(count(journal.meter_id) as decimal(38, 12))
            else coalesce(sum(journal.quantity), 0)
        end as journal_quantity
    from windows
    left join journal
        on {{ columns_match('windows', 'journal', ['tenant_id', 'customer_id', 'meter_id']) }}
            and windows.window_start <= journal.event_ts
            and windows.window_end > journal.event_ts
    group by
        windows.tenant_id, windows.customer_id, windows.subscription_id, windows.meter_id, windows.period_start,
        windows.aggregation, windows.rated_quantity
),

final as (
    select *
    from compared
    where rated_quantity != journal_quantity
)

select * from final
