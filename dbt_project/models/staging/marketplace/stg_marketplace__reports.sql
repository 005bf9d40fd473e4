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
{#- Columns and their staged types (kinds: macros/staging/raw_feed.sql). -#}
{%- set columns = [
    'seq:bigint', 'run_id', 'recorded_at:timestamp', 'marketplace', 'customer_id', 'marketplace_customer',
    'offering_id', 'dimension', 'hour_start:timestamp', 'state', 'quantity:amount', 'cumulative_units:amount',
    'carried_remainder:amount', 'unit_price:amount', 'currency', 'counted:boolean', 'carried_to_hour:timestamp',
    'window_start:timestamp', 'window_end:timestamp', 'request_key', 'metering_record_id', 'detail',
    'sent_quantity:amount',
] %}
with

{% if ledger_exists -%}
    source as (
        select
            *
            {%- if not has_sent_quantity %},
                cast(null as decimal(38, 12)) as sent_quantity
            {%- endif %}
        from {{ ledger_source }}
    ),
{%- else -%}
    source as (
        {{ empty_rows(columns, typed=true) }}
    ),
{%- endif %}

final as (
    select
        {{- staged_columns(columns) }}
    from source
)

select * from final
