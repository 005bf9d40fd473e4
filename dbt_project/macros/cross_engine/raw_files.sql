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

{#- Spark: sources are tables registered at the start of the run (macro register_spark_sources),
    and a source without any file is not registered: then the typed empty row set. -#}
{% macro spark__raw_with_schema(relation, columns) -%}
    {%- set exists = true -%}
    {%- if execute -%}
        {%- set exists = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is not none -%}
    {%- endif -%}
    {%- if exists -%}
    select * from {{ relation }}
    {%- else -%}
    select
    {%- for name, type in columns %}
        cast(null as {{ usagebill.spark_type(type) }}) as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    where false
    {%- endif -%}
{%- endmacro %}

{% macro spark__raw_files_exist(table_dir) -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set result = run_query("select count(*) from usagebill_meta.raw_files where path like '%/" ~ table_dir ~ "/%'") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- A DuckDB type name of the loaders' column lists as Spark SQL spells it. -#}
{% macro spark_type(type) -%}
    {%- set t = type | lower -%}
    {{- return({'varchar': 'string', 'text': 'string', 'timestamptz': 'timestamp', 'hugeint': 'decimal(38, 0)'}.get(t, t)) -}}
{%- endmacro %}
