{#- The event contract's bound on one event's quantity: below 10^18 (18 integer digits,
    ingestion/events.py MAX_INTEGER_DIGITS). With it, a DECIMAL(38, 12) rollup (26 integer
    digits) holds the sum of 10^8 maximal events of one customer, meter, period and dimensions;
    docs/events.md, "Quantity bounds". -#}
{% macro max_event_quantity() -%}
    cast(1000000000000000000 as decimal(38, 12))
{%- endmacro %}
