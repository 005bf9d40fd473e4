{#- Date and time helpers that differ between engines. Every timestamp is UTC without a zone. -#}

{#- Truncate a timestamp/date to 'hour' | 'day' | 'month' | 'year'; returns a timestamp. -#}
{% macro trunc_to(part, expr) -%}
    {{ return(adapter.dispatch('trunc_to', 'usagebill')(part, expr)) }}
{%- endmacro %}

{% macro default__trunc_to(part, expr) -%}
    date_trunc('{{ part }}', {{ expr }})
{%- endmacro %}

{% macro spark__trunc_to(part, expr) -%}
    date_trunc('{{ part }}', {{ expr }})
{%- endmacro %}

{#- Add an integer number of units ('hour', 'day', 'month', 'year') to a date or timestamp. -#}
{% macro add_interval(part, amount, expr) -%}
    {{ return(adapter.dispatch('add_interval', 'usagebill')(part, amount, expr)) }}
{%- endmacro %}

{% macro default__add_interval(part, amount, expr) -%}
    ({{ expr }} + ({{ amount }}) * interval '1 {{ part }}')
{%- endmacro %}

{% macro duckdb__add_interval(part, amount, expr) -%}
    ({{ expr }} + to_{{ part }}s(cast({{ amount }} as integer)))
{%- endmacro %}

{% macro spark__add_interval(part, amount, expr) -%}
    {%- if part == 'month' -%} add_months({{ expr }}, {{ amount }})
    {%- elif part == 'year' -%} add_months({{ expr }}, 12 * ({{ amount }}))
    {%- elif part == 'day' -%} date_add({{ expr }}, {{ amount }})
    {%- else -%} ({{ expr }} + make_interval(0, 0, 0, 0, {{ amount }}, 0, 0))
    {%- endif -%}
{%- endmacro %}

{#- Whole months from start to end (end - start), for first-of-month dates. -#}
{% macro months_between_starts(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('months_between_starts', 'usagebill')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__months_between_starts(start_expr, end_expr) -%}
    ((extract(year from {{ end_expr }}) - extract(year from {{ start_expr }})) * 12
        + extract(month from {{ end_expr }}) - extract(month from {{ start_expr }}))
{%- endmacro %}

{#- Whole days from start to end (end - start). -#}
{% macro days_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('days_between', 'usagebill')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__days_between(start_expr, end_expr) -%}
    (cast({{ end_expr }} as date) - cast({{ start_expr }} as date))
{%- endmacro %}

{% macro duckdb__days_between(start_expr, end_expr) -%}
    date_diff('day', cast({{ start_expr }} as date), cast({{ end_expr }} as date))
{%- endmacro %}

{% macro spark__days_between(start_expr, end_expr) -%}
    datediff(cast({{ end_expr }} as date), cast({{ start_expr }} as date))
{%- endmacro %}

{#- Microseconds since the Unix epoch of a UTC timestamp (exact integer). -#}
{% macro epoch_micros(expr) -%}
    {{ return(adapter.dispatch('epoch_micros', 'usagebill')(expr)) }}
{%- endmacro %}

{% macro default__epoch_micros(expr) -%}
    cast(extract(epoch from {{ expr }}) * 1000000 as bigint)
{%- endmacro %}

{% macro duckdb__epoch_micros(expr) -%}
    epoch_us({{ expr }})
{%- endmacro %}

{% macro spark__epoch_micros(expr) -%}
    unix_micros({{ expr }})
{%- endmacro %}

{#- A timestamp as a zone-less UTC timestamp, whether the file stored it with zone (Parquet
    isAdjustedToUTC) or without. DuckDB: via epoch micros, so the session TimeZone never applies. -#}
{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'usagebill')(expr)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expr) -%}
    cast({{ expr }} as timestamp)
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expr) -%}
    make_timestamp(epoch_us({{ expr }}))
{%- endmacro %}

{% macro postgres__to_utc_timestamp(expr) -%}
    cast({{ expr }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- One row per day in [start_date, end_date) as column date_day (half-open). Arguments are SQL
    expressions of type date. -#}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'usagebill')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
    {{ return(usagebill.calendar_spine('day', start_date, end_date, 'date_day')) }}
{%- endmacro %}

{% macro postgres__date_spine(start_date, end_date) -%}
    select cast(d as date) as date_day
    from generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date) - 1, interval '1 day') as g (d)
{%- endmacro %}

{#- One row per month start in [start_month, end_month) as column month_start. -#}
{% macro month_spine(start_month, end_month) -%}
    {{ return(usagebill.calendar_spine('month', start_month, end_month, 'month_start')) }}
{%- endmacro %}

{#- One row per `part` ('day' or 'month') from start (included) to end (excluded), as DATE column
    `column`: the body of date_spine and month_spine. -#}
{% macro calendar_spine(part, start, end, column) -%}
    {{ return(adapter.dispatch('calendar_spine', 'usagebill')(part, start, end, column)) }}
{%- endmacro %}

{% macro default__calendar_spine(part, start, end, column) -%}
    select cast(m as date) as {{ column }}
    from generate_series(cast({{ start }} as date), cast({{ end }} as date) - interval '1 day', interval '1 {{ part }}') as g (m)
{%- endmacro %}

{% macro duckdb__calendar_spine(part, start, end, column) -%}
    select cast(m.range as date) as {{ column }}
    from range(cast({{ start }} as date), cast({{ end }} as date), interval 1 {{ part }}) as m
{%- endmacro %}

{% macro spark__calendar_spine(part, start, end, column) -%}
    select explode(sequence(cast({{ start }} as date), date_sub(cast({{ end }} as date), 1), interval 1 {{ part }})) as {{ column }}
{%- endmacro %}
