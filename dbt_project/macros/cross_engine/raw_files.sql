{#- Select a raw Parquet source with a guaranteed schema, also while its folder holds no file yet
    (e.g. nothing was ever quarantined). DuckDB: the source reads with allow_empty = true (an
    empty glob yields no rows instead of an error) and is unioned BY NAME with a typed empty row
    set, so the view always has the declared columns and starts reading files as soon as they
    appear (no rebuild needed; hive partition pruning still applies). Other engines read tables:
    the source as is. `columns` is a list of (name, sql type) pairs as the loaders write them. -#}
{% macro raw_with_schema(relation, columns) -%}
    {{ return(adapter.dispatch('raw_with_schema', 'usagebill')(relation, columns)) }}
{%- endmacro %}

{% macro default__raw_with_schema(relation, columns) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro duckdb__raw_with_schema(relation, columns) -%}
    select * from {{ relation }}
    union all by name
    select
    {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    where false
{%- endmacro %}
