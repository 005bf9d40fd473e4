{#- The Dagster partition window as a SQL condition on `column` (a date): half-open
    [var('min_date'), var('max_date')), never `between`. Outside incremental runs (first build,
    --full-refresh) the window is dropped deliberately: `true`. -#}
{% macro arrival_window_filter(column) -%}
    {%- if is_incremental() -%}
        ({{ column }} >= cast('{{ var("min_date") }}' as date) and {{ column }} < cast('{{ var("max_date") }}' as date))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
