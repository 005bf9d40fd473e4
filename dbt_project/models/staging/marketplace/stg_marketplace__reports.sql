{#- The marketplace reporting ledger (append-only, written by exports/marketplace/ledger.py), typed.
    Before the first reporting run the table does not exist yet: same columns, no rows. -#}
{%- set ledger_source = source('ledger', 'marketplace_reports') -%}
{#- Columns added after the first ledgers were written, with the value of their older rows (the Python
    ledger adds each on its next run, filling its default: exports/marketplace/ledger.py). A ledger
    from before tenants existed is the default tenant's (docs/marketplaces.md section 6). -#}
{%- set later_columns = {
    'sent_quantity': 'cast(null as decimal(38, 12))',
    'tenant_id': "cast('default' as " ~ dbt.type_string() ~ ")",
} -%}
{%- set ledger_exists = true -%}
{%- set missing_columns = [] -%}
{%- if execute -%}
    {%- set ledger_relation = adapter.get_relation(
        database=ledger_source.database, schema=ledger_source.schema, identifier=ledger_source.identifier
    ) -%}
    {%- set ledger_exists = ledger_relation is not none -%}
    {%- if ledger_exists -%}
        {%- set present = adapter.get_columns_in_relation(ledger_relation) | map(attribute='name')
            | map('lower') | list -%}
        {%- for name in later_columns if name not in present -%}
            {%- do missing_columns.append(name) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}
{#- Columns and their staged types (kinds: macros/staging/raw_feed.sql). -#}
{%- set columns = [
    'seq:bigint', 'run_id', 'recorded_at:timestamp', 'marketplace', 'tenant_id', 'customer_id', 'marketplace_customer',
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
            {%- for name in missing_columns %},
                {{ later_columns[name] }} as {{ name }}
            {%- endfor %}
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
