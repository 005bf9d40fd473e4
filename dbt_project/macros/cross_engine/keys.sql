{#- md5 of the columns' text values joined by '|', null-safe (null -> '_null_'), so
    (a, null) and (null, a) give different keys. -#}
{% macro surrogate_key(columns) -%}
    {{ return(adapter.dispatch('surrogate_key', 'usagebill')(columns)) }}
{%- endmacro %}

{% macro default__surrogate_key(columns) -%}
    md5(
    {%- for column in columns %}
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '_null_')
        {%- if not loop.last %} || '|' ||{% endif %}
    {%- endfor %}
    )
{%- endmacro %}

{#- The event's dimensions as canonical JSON text (keys sorted, no whitespace), so that the same
    dimensions in any key order group together. '{}' when there are none. -#}
{% macro dimensions_key(json_expr) -%}
    {{ return(adapter.dispatch('dimensions_key', 'usagebill')(json_expr)) }}
{%- endmacro %}

{% macro default__dimensions_key(json_expr) -%}
    cast(cast(coalesce({{ json_expr }}, '{}') as jsonb) as text)
{%- endmacro %}

{% macro duckdb__dimensions_key(json_expr) -%}
    cast(to_json(map_from_entries(list_sort(map_entries(
        cast(json(coalesce({{ json_expr }}, '{}')) as map(varchar, varchar))
    )))) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__dimensions_key(json_expr) -%}
    to_json(map_from_entries(array_sort(map_entries(from_json(coalesce({{ json_expr }}, '{}'), 'map<string,string>')))))
{%- endmacro %}

{#- A top-level property of a JSON object text as a string (null when absent). The property name
    is a SQL expression (it may be a column). -#}
{% macro json_property(json_expr, name_expr) -%}
    {{ return(adapter.dispatch('json_property', 'usagebill')(json_expr, name_expr)) }}
{%- endmacro %}

{% macro default__json_property(json_expr, name_expr) -%}
    (cast({{ json_expr }} as jsonb) ->> {{ name_expr }})
{%- endmacro %}

{% macro duckdb__json_property(json_expr, name_expr) -%}
    json_extract_string({{ json_expr }}, '$."' || {{ name_expr }} || '"')
{%- endmacro %}

{% macro spark__json_property(json_expr, name_expr) -%}
    get_json_object({{ json_expr }}, concat('$.', {{ name_expr }}))
{%- endmacro %}

{#- The value of `value_expr` on the row with the greatest `order_exprs` (a list, compared in order). -#}
{% macro value_at_max(value_expr, order_exprs) -%}
    {{ return(adapter.dispatch('value_at_max', 'usagebill')(value_expr, order_exprs)) }}
{%- endmacro %}

{% macro default__value_at_max(value_expr, order_exprs) -%}
    (array_agg({{ value_expr }} order by {% for o in order_exprs %}{{ o }} desc{% if not loop.last %}, {% endif %}{% endfor %}))[1]
{%- endmacro %}

{% macro duckdb__value_at_max(value_expr, order_exprs) -%}
    arg_max({{ value_expr }}, {% if order_exprs | length == 1 %}{{ order_exprs[0] }}{% else %}row({{ order_exprs | join(', ') }}){% endif %})
{%- endmacro %}

{% macro spark__value_at_max(value_expr, order_exprs) -%}
    max_by({{ value_expr }}, {% if order_exprs | length == 1 %}{{ order_exprs[0] }}{% else %}struct({{ order_exprs | join(', ') }}){% endif %})
{%- endmacro %}

{#- The text at a fixed JSON path ('$.a.b.c', object keys only) of a JSON text; null when absent. -#}
{% macro json_path_text(json_expr, path) -%}
    {{ return(adapter.dispatch('json_path_text', 'usagebill')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_path_text(json_expr, path) -%}
    (cast({{ json_expr }} as jsonb) #>> '{ {{- path[2:].split('.') | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_path_text(json_expr, path) -%}
    json_extract_string({{ json_expr }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_path_text(json_expr, path) -%}
    get_json_object({{ json_expr }}, '{{ path }}')
{%- endmacro %}
