{#- Round an amount ONCE to the currency's minor unit, half-up (half away from zero), kept as
    DECIMAL(38,12). `minor_unit_expr` is an integer column (0..4; JPY 0, USD 2, KWD 3). ROUND on
    DECIMAL rounds half away from zero on DuckDB, PostgreSQL (numeric) and Spark (HALF_UP); the
    precision must be a constant on DuckDB, hence the CASE. -#}
{% macro round_money(amount_expr, minor_unit_expr) -%}
    cast(case {{ minor_unit_expr }}
        when 0 then cast(round(cast({{ amount_expr }} as decimal(38, 12)), 0) as decimal(38, 12))
        when 1 then cast(round(cast({{ amount_expr }} as decimal(38, 12)), 1) as decimal(38, 12))
        when 2 then cast(round(cast({{ amount_expr }} as decimal(38, 12)), 2) as decimal(38, 12))
        when 3 then cast(round(cast({{ amount_expr }} as decimal(38, 12)), 3) as decimal(38, 12))
        when 4 then cast(round(cast({{ amount_expr }} as decimal(38, 12)), 4) as decimal(38, 12))
    end as decimal(38, 12))
{%- endmacro %}

{#- A DECIMAL as plain text for JSON (no exponent, trailing zeros of the 12-place scale kept):
    0 -> '0.000000000000', -0.000000000001 -> '-0.000000000001'. -#}
{% macro decimal_text(expr) -%}
    {{ return(adapter.dispatch('decimal_text', 'usagebill')(expr)) }}
{%- endmacro %}

{% macro default__decimal_text(expr) -%}
    cast(cast({{ expr }} as decimal(38, 12)) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark casts a DECIMAL to text with java.math.BigDecimal.toString, which switches to an exponent
    when the adjusted exponent is below -6: every |x| < 0.000001 at scale 12, zero included, reads
    '0E-12', '1E-12', '1.00000E-7'. Those values are written as sign, '0.' and the 12 decimal
    digits of the integer |x| * 10^12 (exact: |x| < 10^-6 leaves 6 digits); the others keep the cast. -#}
{% macro spark__decimal_text(expr) -%}
    (case
        when abs(cast({{ expr }} as decimal(38, 12))) < 0.000001
            then case when cast({{ expr }} as decimal(38, 12)) < 0 then '-' else '' end || '0.' || lpad(
                cast(cast(abs(cast({{ expr }} as decimal(38, 12))) * 1000000000000 as decimal(38, 0)) as string),
                12, '0')
        else cast(cast({{ expr }} as decimal(38, 12)) as string)
    end)
{%- endmacro %}

{#- A string as a JSON string literal (backslashes and quotes escaped with chr(92), which reads
    the same on every engine); 'null' when null. -#}
{% macro json_string(expr) -%}
    coalesce('"' || replace(replace(cast({{ expr }} as {{ dbt.type_string() }}), chr(92), chr(92) || chr(92)), '"', chr(92) || '"') || '"', 'null')
{%- endmacro %}

{#- price * quantity / unit_size at DECIMAL(38,12) without a binary float (marketplace price parity). -#}
{% macro price_times(quantity_expr, unit_price_expr, unit_size_expr) -%}
    {{ safe_divide(decimal_multiply(quantity_expr, unit_price_expr), unit_size_expr) }}
{%- endmacro %}

{#- A DECIMAL amount already rounded to its currency's minor unit, as a BIGINT count of minor units
    (e.g. 144.00 USD -> 14400; 1235 JPY -> 1235). `minor_unit_expr` is 0..4. -#}
{% macro to_minor_units(amount_expr, minor_unit_expr) -%}
    cast(case {{ minor_unit_expr }}
        when 0 then {{ amount_expr }}
        when 1 then {{ amount_expr }} * 10
        when 2 then {{ amount_expr }} * 100
        when 3 then {{ amount_expr }} * 1000
        when 4 then {{ amount_expr }} * 10000
    end as bigint)
{%- endmacro %}

{#- The inverse: a BIGINT count of minor units as a DECIMAL amount (14400 with 2 decimals -> 144.00).
    `decimals_expr` is 0..3 (Stripe's decimals for the currency, or ISO 4217's minor unit). -#}
{% macro from_minor_units(minor_expr, decimals_expr) -%}
    {{ decimal_multiply(minor_expr,
        'case ' ~ decimals_expr ~ ' when 0 then 1 when 1 then 0.1 when 2 then 0.01 when 3 then 0.001 end') }}
{%- endmacro %}
