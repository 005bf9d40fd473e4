{#- Dated rates into a marketplace's listing currency: rate = units of to_currency per 1 from_currency,
    effective from effective_date until the next row of the same pair (exports/marketplace/fx.py). -#}
with

{% if raw_files_exist('marketplace/fx_rates') -%}
    source as (
        select * from {{ source('raw', 'marketplace_fx_rates') }}
    ),
{%- else -%}
    source as (
        {%- set _lineage = source('raw', 'marketplace_fx_rates') %}
        select
            cast(null as {{ dbt.type_string() }}) as from_currency,
            cast(null as {{ dbt.type_string() }}) as to_currency,
            cast(null as {{ dbt.type_string() }}) as rate,
            cast(null as {{ dbt.type_string() }}) as effective_date
        where false
    ),
{%- endif %}

final as (
    select
        upper(cast(from_currency as {{ dbt.type_string() }})) as from_currency,
        upper(cast(to_currency as {{ dbt.type_string() }})) as to_currency,
        cast(rate as decimal(38, 12)) as rate,
        cast(effective_date as date) as effective_date
    from source
)

select * from final
