{#- True when the raw folder `table_dir` (under USAGEBILL_RAW_DIR) holds at least one Parquet file.
    DuckDB's read_parquet fails on a glob that matches nothing, so staging models select a typed
    empty row set instead while a folder is still empty (e.g. no event was ever quarantined).
    Loaders should still write an empty file with the schema; this is the guard if they do not.
    Other engines read tables, not globs: always true. -#}
{% macro raw_files_exist(table_dir) -%}
    {{ return(adapter.dispatch('raw_files_exist', 'usagebill')(table_dir)) }}
{%- endmacro %}

{% macro default__raw_files_exist(table_dir) -%}
    {{ return(true) }}
{%- endmacro %}

{% macro duckdb__raw_files_exist(table_dir) -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set pattern = env_var('USAGEBILL_RAW_DIR', '../warehouse/raw') ~ '/' ~ table_dir ~ '/**/*.parquet' -%}
    {%- set result = run_query("select count(*) from glob('" ~ pattern | replace("'", "''") ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
