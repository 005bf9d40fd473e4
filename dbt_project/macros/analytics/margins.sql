{#- The margin columns of a margin mart (docs/analytics.md "Margins"), from the row's revenue, its
    variable cost and every cost it carries (a list, subtracted one by one):
      contribution_margin_reporting = revenue - variable cost
      gross_margin_reporting        = revenue - each cost
      contribution_margin_pct       = contribution / revenue x 100 (null when revenue is 0)
      gross_margin_pct              = gross / revenue x 100 (null when revenue is 0)
    Amounts are DECIMAL(38, 12); the percentages are not rounded here (reports round for display). -#}
{% macro margin_columns(revenue, variable_cost, costs) -%}
    {%- set gross = revenue ~ ' - ' ~ costs | join(' - ') -%}
        cast({{ revenue }} - {{ variable_cost }} as decimal(38, 12)) as contribution_margin_reporting,
        cast({{ gross }} as decimal(38, 12)) as gross_margin_reporting,
        {{ safe_divide('(' ~ revenue ~ ' - ' ~ variable_cost ~ ') * 100', revenue) }} as contribution_margin_pct,
        {{ safe_divide('(' ~ gross ~ ') * 100', revenue) }} as gross_margin_pct
{%- endmacro %}
