{#- Grain test: no two rows share the same values of `combination_of_columns`. Fails with one
    row per duplicated combination (and how many times it occurs). -#}
{% test unique_combination_of_columns(model, combination_of_columns) -%}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'usagebill')(model, combination_of_columns)) }}
{%- endtest %}

{% macro default__test_unique_combination_of_columns(model, combination_of_columns) -%}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{%- endmacro %}
