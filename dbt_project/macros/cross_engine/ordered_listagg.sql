{#- The values of `measure` joined by `delimiter_text`, in the order of `order_by` (an expression),
    on every engine. dbt.listagg's order_by_clause works on DuckDB and PostgreSQL but dbt-spark
    ignores it (spark__listagg warns and uses collect_list, whose order depends on the shuffle);
    on Spark the values are sorted by (order_by, value) before joining. -#}
{% macro ordered_listagg(measure, delimiter_text, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'usagebill')(measure, delimiter_text, order_by)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, delimiter_text, order_by) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ order_by) }}
{%- endmacro %}

{% macro spark__ordered_listagg(measure, delimiter_text, order_by) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('sort_key', {{ order_by }}, 'item', {{ measure }}))),
            entry -> entry.item
        ),
        {{ delimiter_text }}
    )
{%- endmacro %}
