{#- Staging of raw feeds in one place: a feed model names its folder, its source and its columns once.

    A column spec is "name" or "name:kind"; the kind says how staging types the raw text:
      text (default)  cast to {{ dbt.type_string() }}
      upper           text, upper-cased (ISO 4217 currency codes arrive in any case)
      amount          DECIMAL(38,12): amounts and quantities arrive as exact decimal text, never float
      date            DATE
      timestamp       TIMESTAMP (UTC without zone, like every time in the project)
      utc_timestamp   ISO 8601 UTC text ('...Z') to TIMESTAMP: the 'Z' dropped, the time kept
      integer, bigint, boolean   that SQL type
      keep            as the source types it (already typed by the loader)
-#}

{#- The spec's column name. -#}
{% macro column_spec_name(spec) -%}
    {{ return(spec.split(':')[0]) }}
{%- endmacro %}

{#- The SQL type a column spec stages to (the kinds above). -#}
{% macro column_spec_type(spec) -%}
    {%- set kind = spec.split(':')[1] if ':' in spec else 'text' -%}
    {%- if kind in ('text', 'upper', 'keep') -%}
        {{ return(dbt.type_string()) }}
    {%- elif kind == 'amount' -%}
        {{ return('decimal(38, 12)') }}
    {%- elif kind == 'utc_timestamp' -%}
        {{ return('timestamp') }}
    {%- else -%}
        {{ return(kind) }}
    {%- endif -%}
{%- endmacro %}

{#- The columns of `columns` with no rows: all text as the loaders write raw feeds (typed=false), or
    each column's staged type (typed=true, for sources written already typed). -#}
{% macro empty_rows(columns, typed=false) -%}
    select
    {%- for spec in columns %}
        cast(null as {{ column_spec_type(spec) if typed else dbt.type_string() }}) as {{ column_spec_name(spec) }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    where false
{%- endmacro %}

{#- The source rows of a raw feed: the source table once its folder holds a Parquet file, else
    empty_rows, so a feed not loaded yet stages as empty instead of failing (raw_files_exist). The
    model passes `relation` = source(...), which keeps the lineage to the source either way. -#}
{% macro raw_feed_source(table_dir, relation, columns, typed_empty=false) -%}
    {%- if raw_files_exist(table_dir) -%}
        select * from {{ relation }}
    {%- else -%}
        {{ empty_rows(columns, typed_empty) }}
    {%- endif -%}
{%- endmacro %}

{#- The typed select list of a staging model, one expression per column spec (kinds above). -#}
{% macro staged_columns(columns) -%}
    {%- for spec in columns %}
        {%- set name = column_spec_name(spec) -%}
        {%- set kind = spec.split(':')[1] if ':' in spec else 'text' %}
        {% if kind == 'text' -%}
            cast({{ name }} as {{ dbt.type_string() }}) as {{ name }}
        {%- elif kind == 'upper' -%}
            upper(cast({{ name }} as {{ dbt.type_string() }})) as {{ name }}
        {%- elif kind == 'amount' -%}
            cast({{ name }} as decimal(38, 12)) as {{ name }}
        {%- elif kind in ('date', 'timestamp', 'integer', 'bigint', 'boolean') -%}
            cast({{ name }} as {{ kind }}) as {{ name }}
        {%- elif kind == 'utc_timestamp' -%}
            cast(replace({{ name }}, 'Z', '') as timestamp) as {{ name }}
        {%- elif kind == 'keep' -%}
            {{ name }}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "staged_columns: column '" ~ name ~ "' has kind '" ~ kind
                ~ "'; use one of text, upper, amount, date, timestamp, utc_timestamp, integer, bigint, boolean, keep"
            ) }}
        {%- endif -%}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- A raw feed staged: its source rows (raw_feed_source) typed by staged_columns. -#}
{% macro stage_raw_feed(table_dir, relation, columns, typed_empty=false) -%}
with

source as (
    {{ raw_feed_source(table_dir, relation, columns, typed_empty) }}
),

final as (
    select
        {{- staged_columns(columns) }}
    from source
)

select * from final
{%- endmacro %}
