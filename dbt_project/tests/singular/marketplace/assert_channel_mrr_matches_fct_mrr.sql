{#- One MRR: per month and currency, the MRR of all channels (marketplace.fct_revenue_by_channel)
    equals the MRR of analytics.fct_mrr, so the executive report and the channel view can never
    disagree. Returns the months and currencies that differ. -#}
with

channel_mrr as (
    select
        revenue_month as month_start,
        currency,
        sum(mrr) as mrr
    from {{ ref('fct_revenue_by_channel') }}
    group by 1, 2
),

company_mrr as (
    select
        month_start,
        currency,
        sum(mrr) as mrr
    from {{ ref('fct_mrr') }}
    group by 1, 2
),

final as (
    select
        {{ coalesce_keys(['month_start', 'currency'], 'channel_mrr', 'company_mrr') }},
        channel_mrr.mrr as channel_mrr,
        company_mrr.mrr as company_mrr
    from channel_mrr
    full outer join company_mrr
        on
            {{ keys_match(['month_start', 'currency'], 'channel_mrr', 'company_mrr') }}
    where coalesce(channel_mrr.mrr, 0) != coalesce(company_mrr.mrr, 0)
)

select * from final
