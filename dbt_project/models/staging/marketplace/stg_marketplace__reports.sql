{#- The marketplace reporting ledger (append-only, written by exports/marketplace/ledger.py), typed.
    Before the first reporting run the table does not exist yet: same columns, no rows. -#}
{%- set ledger_source = source('ledger', 'marketplace_reports') -%}
{%- set ledger_exists = true -%}
{%- set has_sent_quantity = true -%}
{%- if execute -%}
    {%- set ledger_relation = adapter.get_relation(
        database=ledger_source.database, schema=ledger_source.schema, identifier=ledger_source.identifier
    ) -%}
    {%- set ledger_exists = ledger_relation is not none -%}
    {%- if ledger_exists -%}
        {#- ledgers written before sent_quantity existed (the Python ledger adds it on its next run) -#}
        {%- set has_sent_quantity = 'sent_quantity' in (
            adapter.get_columns_in_relation(ledger_relation) | map(attribute='name') | map('lower') | list
        ) -%}
    {%- endif -%}
{%- endif %}
with

{% if ledger_exists -%}
    source as (
        select * from {{ ledger_source }}
    ),
{%- else -%}
    source as (
        select
            cast(null as bigint) as seq,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as timestamp) as recorded_at,
            cast(null as {{ dbt.type_string() }}) as marketplace,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as marketplace_customer,
            cast(null as {{ dbt.type_string() }}) as offering_id,
            cast(null as {{ dbt.type_string() }}) as dimension,
            cast(null as timestamp) as hour_start,
            cast(null as {{ dbt.type_string() }}) as state,
            cast(null as decimal(38, 12)) as quantity,
            cast(null as decimal(38, 12)) as cumulative_units,
            cast(null as decimal(38, 12)) as carried_remainder,
            cast(null as decimal(38, 12)) as unit_price,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as boolean) as counted,
            cast(null as timestamp) as carried_to_hour,
            cast(null as timestamp) as window_start,
            cast(null as timestamp) as window_end,
            cast(null as {{ dbt.type_string() }}) as request_key,
            cast(null as {{ dbt.type_string() }}) as metering_record_id,
            cast(null as {{ dbt.type_string() }}) as detail,
            cast(null as decimal(38, 12)) as sent_quantity
        where false
    ),
{%- endif %}

renamed as (
    select
        cast(seq as bigint) as seq,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(recorded_at as timestamp) as recorded_at,
        cast(marketplace as {{ dbt.type_string() }}) as marketplace,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(marketplace_customer as {{ dbt.type_string() }}) as marketplace_customer,
        cast(offering_id as {{ dbt.type_string() }}) as offering_id,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(hour_start as timestamp) as hour_start,
        cast(state as {{ dbt.type_string() }}) as state,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(cumulative_units as decimal(38, 12)) as cumulative_units,
        cast(carried_remainder as decimal(38, 12)) as carried_remainder,
        cast(unit_price as decimal(38, 12)) as unit_price,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(counted as boolean) as counted,
        cast(carried_to_hour as timestamp) as carried_to_hour,
        cast(window_start as timestamp) as window_start,
        cast(window_end as timestamp) as window_end,
        cast(request_key as {{ dbt.type_string() }}) as request_key,
        cast(metering_record_id as {{ dbt.type_string() }}) as metering_record_id,
        cast(detail as {{ dbt.type_string() }}) as detail,
        {% if has_sent_quantity -%}
            cast(sent_quantity as decimal(38, 12)) as sent_quantity
        {%- else -%}
            cast(null as decimal(38, 12)) as sent_quantity
        {%- endif %}
    from source
),

final as (
    select * from renamed
)

select * from final
