{{ config(materialized='view', schema='intermediate') }}

{#- Time-weighted quantities of gauge meters (aggregation time_weighted_sum, e.g. GB stored ->
    GB-hours), cut into clock hours, over all history. The rule and its example: macro
    usage_gauge_hours_ctes (dbt_project/macros/cross_engine/usage_rollup.sql). The rollups use
    the same macro on the affected days' journal rows only, not this view (a filter on a view
    with lead() over all history cannot be pushed below the window function). -#}

with

journal as (
    select * from {{ ref('fct_usage_journal') }}
),

meters as (
    select * from {{ ref('stg_catalog__meters') }}
),

{{ usage_gauge_hours_ctes('journal', 'meters', var('gauge_max_hold_hours', 1) | int) }}

final as (
    select * from gauge_hours
)

select * from final
