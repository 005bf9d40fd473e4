{#- Staging of the catalog tables the catalog loader writes (usagebill/catalog, docs/pricing.md):
    already typed text, so a column without a kind is kept as it is; numbers, dates and flags are
    cast (column specs: macros/staging/raw_feed.sql). -#}
{% macro stage_catalog_table(relation, columns) -%}
    {{- staged_select('select * from ' ~ relation, columns, default_kind='keep') -}}
{%- endmacro %}

{#- The pricing terms a catalog price row carries, typed once for both places a price is written:
    plan charges (stg_catalog__plan_charges) and contract prices (stg_catalog__contract_prices).
    Money and quantities are DECIMAL(38,12) (never float: product-brief.md, "Rules for money and
    time"); free_events is a count. A list of column specs (macros/staging/raw_feed.sql). -#}
{% macro catalog_price_term_specs() -%}
    {{- return([
        'price_model', 'amount:amount', 'unit_price:amount', 'unit_size:amount',
        'block_rounding', 'package_size:amount', 'package_price:amount', 'included_units:amount',
        'rate:amount', 'fixed_fee:amount', 'free_events:integer', 'free_amount:amount',
        'min_per_event:amount', 'max_per_event:amount',
    ]) -}}
{%- endmacro %}
