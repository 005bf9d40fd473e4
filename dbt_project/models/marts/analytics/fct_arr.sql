{{ config(schema='analytics') }}

{#- ARR = MRR x 12 (see doc arr), per customer, currency and month. -#}

with

mrr as (
    select * from {{ ref('fct_mrr') }}
),

final as (
    select
        mrr_id as arr_id,
        tenant_id,
        customer_id,
        currency,
        month_start,
        is_provisional,
        mrr,
        cast(mrr * 12 as decimal(38, 12)) as arr,
        reporting_currency,
        cast(mrr_reporting * 12 as decimal(38, 12)) as arr_reporting
    from mrr
)

select * from final
