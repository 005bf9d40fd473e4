{{ config(materialized='view', schema='intermediate') }}

{#- The run's as-of date (one row), so that "the current month" never comes from the wall clock
    and a re-run on the same data gives the same marts.
    as_of_date: the first day NOT yet covered by complete data (exclusive end, like every period).
    - var('as_of_date') when given (YYYY-MM-DD, e.g. dbt build --vars '{as_of_date: 2026-11-29}');
    - else the latest complete data: the end of the latest billed usage period (usage is billed in
      arrears, so a month is complete once its usage is invoiced); with no usage line at all, the
      start of the latest recurring period.
    provisional_month: the month holding as_of_date. Months before it are complete; it may appear
    as a provisional run-rate (is_provisional); later months (future days of an annual fee) are
    left out of the MRR marts. -#}

{%- set as_of = var('as_of_date', none) -%}
{%- if as_of is not none and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', as_of | string) -%}
    {{ exceptions.raise_compiler_error(
        "var as_of_date=" ~ (as_of | string)[:40] ~ " is not a date like 2026-11-01; pass --vars '{as_of_date: YYYY-MM-DD}'"
    ) }}
{%- endif %}

with

revenue_lines as (
    select mrr_category, period_start, period_end from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

derived as (
    select
        coalesce(
            max(case when mrr_category = 'usage' then period_end end),
            max(case when mrr_category = 'recurring' then period_start end)
        ) as latest_complete_day
    from revenue_lines
),

as_of as (
    select
        {%- if as_of is not none %}
            cast('{{ as_of }}' as date) as as_of_date,
            'var' as as_of_source
        {%- else %}
            cast(latest_complete_day as date) as as_of_date,
            'latest_billed_usage' as as_of_source
        {%- endif %}
    from derived
),

final as (
    select
        as_of_date,
        as_of_source,
        cast({{ trunc_to('month', 'as_of_date') }} as date) as provisional_month
    from as_of
)

select * from final
