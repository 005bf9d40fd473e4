{#- Exact decimal division: DECIMAL(38,12) result, rounded half away from zero at the 12th decimal.
    DuckDB divides DECIMALs in DOUBLE (a binary float), which the money rule forbids, so the DuckDB
    version divides the unscaled integers (HUGEINT) instead. Null when the denominator is 0 or null.
    Limits (DuckDB): |numerator| < 10^26 and |denominator| < 1.7 * 10^14. -#}
{% macro safe_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('safe_divide', 'usagebill')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
    cast(cast({{ numerator }} as decimal(38, 12)) / nullif(cast({{ denominator }} as decimal(38, 12)), 0) as decimal(38, 12))
{%- endmacro %}

{%- macro _duckdb_unscaled(expr) -%}
    (cast(trunc(cast({{ expr }} as decimal(38, 12))) as hugeint) * 1000000000000
        + cast((cast({{ expr }} as decimal(38, 12)) - trunc(cast({{ expr }} as decimal(38, 12)))) * 1000000000000 as hugeint))
{%- endmacro -%}

{% macro duckdb__safe_divide(numerator, denominator) -%}
    {%- set n = usagebill._duckdb_unscaled(numerator) -%}
    {%- set d = usagebill._duckdb_unscaled(denominator) -%}
    (case
        when ({{ denominator }}) is null or ({{ numerator }}) is null or {{ d }} = 0 then null
        else cast(
            cast(
                sign({{ n }}) * sign({{ d }}) * (
                    (abs({{ n }}) // abs({{ d }})) * 1000000000000
                    + ((abs({{ n }}) % abs({{ d }})) * 1000000000000 + abs({{ d }}) // 2) // abs({{ d }})
                ) as decimal(38, 0)
            ) * cast(0.000000000001 as decimal(13, 12)) as decimal(38, 12))
    end)
{%- endmacro %}

{#- Money/quantity product kept at DECIMAL(38,12) (DuckDB would otherwise widen the scale to 24 and
    overflow above 10^14). -#}
{% macro decimal_multiply(left, right) -%}
    cast(cast({{ left }} as decimal(38, 12)) * cast({{ right }} as decimal(38, 12)) as decimal(38, 12))
{%- endmacro %}

{#- Text/number -> DECIMAL(38,12), null instead of an error when the value is not a number. -#}
{% macro try_cast_decimal(expr) -%}
    {{ return(adapter.dispatch('try_cast_decimal', 'usagebill')(expr)) }}
{%- endmacro %}

{% macro default__try_cast_decimal(expr) -%}
    (case when {{ expr }} ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$' then cast({{ expr }} as decimal(38, 12)) end)
{%- endmacro %}

{% macro duckdb__try_cast_decimal(expr) -%}
    try_cast({{ expr }} as decimal(38, 12))
{%- endmacro %}

{% macro spark__try_cast_decimal(expr) -%}
    try_cast({{ expr }} as decimal(38, 12))
{%- endmacro %}
