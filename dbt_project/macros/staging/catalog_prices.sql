{#- The pricing terms a catalog price row carries, typed once for both places a price is written:
    plan charges (stg_catalog__plan_charges) and contract prices (stg_catalog__contract_prices).
    Money and quantities are DECIMAL(38,12) (never float: product-brief.md, "Rules for money and
    time"); free_events is a count. Column kinds: macros/staging/raw_feed.sql (staged_columns). -#}
{% macro catalog_price_term_columns() -%}
    {{- staged_columns([
        'price_model:keep', 'amount:amount', 'unit_price:amount', 'unit_size:amount',
        'block_rounding:keep', 'package_size:amount', 'package_price:amount', 'included_units:amount',
        'rate:amount', 'fixed_fee:amount', 'free_events:integer', 'free_amount:amount',
        'min_per_event:amount', 'max_per_event:amount',
    ]) -}}
{%- endmacro %}
