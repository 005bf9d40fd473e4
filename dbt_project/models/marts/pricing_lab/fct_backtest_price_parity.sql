{{ config(materialized='table', schema='pricing_lab') }}

{#- Marketplace price parity under each candidate: every row of marketplace.fct_marketplace_price_parity
    (a marketplace dimension's price against the current catalog's per-unit price of the same plan and
    meter, converted to the marketplace unit) next to the candidate's price of that plan and meter (its
    latest plan version), converted the same way (price_times: unit_price / unit_size x
    meter_units_per_unit) and judged with the same rule and tolerance (macros/pricing/parity.sql):
      candidate_difference_pct = (marketplace price - candidate price) / candidate price x 100
      candidate_parity_status  = ok | flagged (|difference| above tolerance_pct) | no_catalog_price
      parity_change            = unchanged | breaks (ok -> flagged) | restores (flagged -> ok) | other
    A candidate that does not change a price leaves its row unchanged; the listing must then be
    repriced on the marketplace (or the candidate changed) before the candidate ships. -#}

with

parity as (
    {#- the candidate's price is looked up by (plan_id, meter_id) -#}
    select
        plan_id,
        meter_id,
        marketplace,
        offering_id,
        dimension,
        plan_version,
        unit,
        currency,
        meter_units_per_unit,
        marketplace_price,
        catalog_price,
        difference_pct,
        parity_status,
        tolerance_pct
    from {{ ref('fct_marketplace_price_parity') }}
),

candidate_prices as (
    select
        candidate,
        plan_id,
        plan_version,
        meter_id,
        unit_price,
        unit_size
    from {{ ref('stg_pricing_lab__candidate_prices') }}
),

latest_candidate_prices as (
    select
        candidate,
        plan_id,
        meter_id,
        unit_price,
        unit_size,
        row_number() over (partition by candidate, plan_id, meter_id order by plan_version desc) as recency
    from candidate_prices
),

candidates as (
    select distinct candidate from candidate_prices
),

compared as (
    select
        candidates.candidate,
        parity.marketplace,
        parity.offering_id,
        parity.dimension,
        parity.meter_id,
        parity.plan_id,
        parity.plan_version,
        parity.unit,
        parity.currency,
        parity.marketplace_price,
        parity.catalog_price as current_catalog_price,
        parity.difference_pct as current_difference_pct,
        parity.parity_status as current_parity_status,
        parity.tolerance_pct,
        {{ price_times('parity.meter_units_per_unit', 'latest_candidate_prices.unit_price',
            'latest_candidate_prices.unit_size') }} as candidate_catalog_price
    from parity
    cross join candidates
    left join latest_candidate_prices
        on
            candidates.candidate = latest_candidate_prices.candidate
            and parity.plan_id = latest_candidate_prices.plan_id
            and parity.meter_id = latest_candidate_prices.meter_id
            and latest_candidate_prices.recency = 1
),

judged as (
    select
        compared.*,
        {{ parity_difference_pct('compared.marketplace_price', 'compared.candidate_catalog_price') }}
            as candidate_difference_pct,
        {{ parity_status('compared.marketplace_price', 'compared.candidate_catalog_price', 'compared.tolerance_pct') }}
            as candidate_parity_status
    from compared
),

final as (
    select
        *,
        case
            when candidate_parity_status = current_parity_status then 'unchanged'
            when current_parity_status = 'ok' and candidate_parity_status = 'flagged' then 'breaks'
            when current_parity_status = 'flagged' and candidate_parity_status = 'ok' then 'restores'
            else 'other'
        end as parity_change
    from judged
)

select * from final
