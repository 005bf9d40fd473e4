{#- Staging of raw feeds in one place: a feed model names its folder, its source and its columns once.

    A column spec is "name[:kind][=default][>staged_name]": the raw column `name`, typed by `kind`,
    null replaced by the text `default`, renamed to `staged_name`. The kind says how staging types it:
      text (default)  cast to {{ dbt.type_string() }}
      upper, lower    text, upper-/lower-cased (ISO 4217 currency codes arrive in any case)
      amount          DECIMAL(38,12): amounts and quantities arrive as exact decimal text, never float
      date            DATE
      timestamp       TIMESTAMP (UTC without zone, like every time in the project)
      utc_timestamp   ISO 8601 UTC text ('...Z') to TIMESTAMP: the 'Z' dropped, the time kept
      utc, utc_date   a loader's TIMESTAMPTZ as UTC wall time (macro to_utc_timestamp): TIMESTAMP, or its DATE
      integer, bigint, boolean   that SQL type
      keep            as the source types it (already typed by the loader)
-#}

{#- The parts of a column spec: name (the raw column), kind (default_kind when the spec names none),
    default (text or none), staged (the staged column's name). -#}
{% macro column_spec(spec, default_kind='text') -%}
    {%- set head, _, staged = spec.partition('>') -%}
    {%- set head, has_default, default = head.partition('=') -%}
    {%- set name, _, kind = head.partition(':') -%}
    {{ return({'name': name, 'kind': kind or default_kind, 'default': default if has_default else none,
               'staged': staged or name}) }}
{%- endmacro %}

{#- The spec's column name (in the raw feed). -#}
{% macro column_spec_name(spec) -%}
    {{ return(column_spec(spec).name) }}
{%- endmacro %}

{#- The SQL type a column spec stages to (the kinds above). -#}
{% macro column_spec_type(spec) -%}
    {%- set kind = column_spec(spec).kind -%}
    {%- if kind in ('text', 'upper', 'lower', 'keep') -%}
        {{ return(dbt.type_string()) }}
    {%- elif kind == 'amount' -%}
        {{ return('decimal(38, 12)') }}
    {%- elif kind in ('utc_timestamp', 'utc') -%}
        {{ return('timestamp') }}
    {%- elif kind == 'utc_date' -%}
        {{ return('date') }}
    {%- else -%}
        {{ return(kind) }}
    {%- endif -%}
{%- endmacro %}

{#- The (name, type) list of a feed whose loader writes typed Parquet, for macro raw_with_schema:
    the text kinds arrive as text, utc and utc_date as TIMESTAMPTZ, the others as their type. -#}
{% macro raw_column_types(columns) -%}
    {%- set types = [] -%}
    {%- for spec in columns -%}
        {%- set column = column_spec(spec) -%}
        {%- if column.kind in ('text', 'upper', 'lower', 'amount') -%}
            {%- do types.append((column.name, 'varchar')) -%}
        {%- elif column.kind in ('utc', 'utc_date') -%}
            {%- do types.append((column.name, 'timestamptz')) -%}
        {%- else -%}
            {%- do types.append((column.name, column.kind)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(types) }}
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
{% macro staged_columns(columns, default_kind='text') -%}
    {%- for spec in columns %}
        {%- set column = column_spec(spec, default_kind) -%}
        {%- set name, kind = column.name, column.kind -%}
        {%- set text = 'cast(' ~ name ~ ' as ' ~ dbt.type_string() ~ ')' %}
        {% if column.default is not none and kind not in ('text', 'keep') -%}
            {{ exceptions.raise_compiler_error(
                "staged_columns: column '" ~ name ~ "' has a default ('=" ~ column.default
                ~ "'); defaults go with kind text or keep only"
            ) }}
        {%- elif column.default is not none -%}
            coalesce({{ text if kind == 'text' else name }}, '{{ column.default }}')
        {%- elif kind == 'text' -%}
            {{ text }}
        {%- elif kind in ('upper', 'lower') -%}
            {{ kind }}({{ text }})
        {%- elif kind == 'amount' -%}
            cast({{ name }} as decimal(38, 12))
        {%- elif kind in ('date', 'timestamp', 'integer', 'bigint', 'boolean') -%}
            cast({{ name }} as {{ kind }})
        {%- elif kind == 'utc_timestamp' -%}
            cast(replace({{ name }}, 'Z', '') as timestamp)
        {%- elif kind == 'utc' -%}
            {{ usagebill.to_utc_timestamp(name) }}
        {%- elif kind == 'utc_date' -%}
            cast({{ usagebill.to_utc_timestamp(name) }} as date)
        {%- elif kind == 'keep' -%}
            {{ name }}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "staged_columns: column '" ~ name ~ "' has kind '" ~ kind
                ~ "'; use one of text, upper, lower, amount, date, timestamp, utc_timestamp, utc, utc_date,"
                ~ " integer, bigint, boolean, keep"
            ) }}
        {%- endif %}{{ '' if kind == 'keep' and column.default is none and column.staged == name else ' as ' ~ column.staged }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- A staging model's body: the rows of `source_sql` typed by staged_columns. -#}
{% macro staged_select(source_sql, columns, default_kind='text') -%}
with

source as (
    {{ source_sql }}
),

final as (
    select
        {{- staged_columns(columns, default_kind) }}
    from source
)

select * from final
{%- endmacro %}

{#- A raw feed staged: its source rows (raw_feed_source) typed by staged_columns. -#}
{% macro stage_raw_feed(table_dir, relation, columns, typed_empty=false) -%}
    {{- staged_select(raw_feed_source(table_dir, relation, columns, typed_empty), columns) -}}
{%- endmacro %}

{#- A feed the Python loaders write as typed Parquet (usage events, quarantine, cloud costs) staged:
    the source typed even while its folder holds no file yet (raw_with_schema, with the raw types
    of raw_column_types), then staged_columns. -#}
{% macro stage_loader_feed(relation, columns) -%}
    {{- staged_select(usagebill.raw_with_schema(relation, raw_column_types(columns)), columns) -}}
{%- endmacro %}
