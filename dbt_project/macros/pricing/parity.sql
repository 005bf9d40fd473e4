{#- Marketplace price parity, one rule for every comparison (marketplace.fct_marketplace_price_parity,
    pricing_lab.fct_backtest_price_parity): a marketplace price against a catalog price already
    converted to the marketplace unit.
      difference_pct = (marketplace price - catalog price) / catalog price x 100 (null without a catalog price)
      status         = no_catalog_price | flagged (|difference| above tolerance_pct percent) | ok -#}
{% macro parity_difference_pct(marketplace_price, catalog_price) -%}
    cast(case when {{ catalog_price }} > 0
            then {{ safe_divide(decimal_multiply(marketplace_price ~ ' - ' ~ catalog_price, '100'), catalog_price) }}
    end as decimal(38, 12))
{%- endmacro %}

{% macro parity_status(marketplace_price, catalog_price, tolerance_pct) -%}
    case
        when {{ catalog_price }} is null then 'no_catalog_price'
        when abs({{ marketplace_price }} - {{ catalog_price }}) * 100 > {{ tolerance_pct }} * {{ catalog_price }}
            then 'flagged'
        else 'ok'
    end
{%- endmacro %}
