{{ config(materialized='view', schema='staging') }}

{#- Candidate billing lines written by the pricing lab, one row per candidate and billing line. -#}

with

{% if raw_files_exist('pricing_lab_lines') -%}
    source as (
        select * from {{ source('raw', 'pricing_lab_lines') }}
    ),
{%- else -%}
    source as (
        {#- No back-test ran yet: same columns, no rows. -#}
        {%- set _lineage = source('raw', 'pricing_lab_lines') %}
        select
            cast(null as {{ dbt.type_string() }}) as candidate,
            cast(null as {{ dbt.type_string() }}) as billing_line_id,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as subscription_id,
            cast(null as {{ dbt.type_string() }}) as plan_id,
            cast(null as {{ dbt.type_string() }}) as charge_id,
            cast(null as {{ dbt.type_string() }}) as meter_id,
            cast(null as {{ dbt.type_string() }}) as line_type,
            cast(null as date) as period_start,
            cast(null as date) as period_end,
            cast(null as decimal(38, 12)) as quantity,
            cast(null as decimal(38, 12)) as amount,
            cast(null as decimal(38, 12)) as amount_rounded,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as date) as window_start,
            cast(null as date) as window_end
        where false
    ),
{%- endif %}

final as (
    select
        cast(candidate as {{ dbt.type_string() }}) as candidate,
        cast(billing_line_id as {{ dbt.type_string() }}) as billing_line_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(charge_id as {{ dbt.type_string() }}) as charge_id,
        cast(meter_id as {{ dbt.type_string() }}) as meter_id,
        cast(line_type as {{ dbt.type_string() }}) as line_type,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(amount as decimal(38, 12)) as amount,
        cast(amount_rounded as decimal(38, 12)) as amount_rounded,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end
    from source
)

select * from final
