{#- The key of the marketplace reporting ledger (exports/marketplace/ledger.py ReportRow.key), in one place:
    each (marketplace, tenant, customer, dimension, hour) is reported exactly once (docs/marketplaces.md
    section 6). -#}
{% macro marketplace_report_key_columns() -%}
    {{ return(['marketplace', 'tenant_id', 'customer_id', 'dimension', 'hour_start']) }}
{%- endmacro %}

{#- The key columns as a list for select / group by / partition by, each prefixed with `relation.` when given. -#}
{% macro marketplace_report_key(relation=none) -%}
    {%- for column in marketplace_report_key_columns() -%}
        {{ relation ~ '.' if relation else '' }}{{ column }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Join condition: `left` and `right` have the same key. -#}
{% macro marketplace_report_key_equal(left, right) -%}
    {%- for column in marketplace_report_key_columns() %}
            {{ 'and ' if not loop.first }}{{ left }}.{{ column }} = {{ right }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
