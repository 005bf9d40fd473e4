{#- Every billing line's amount_rounded is its amount rounded once, half-up, to the currency's minor
    unit (credit and true-up lines are computed from rounded amounts, so amount = amount_rounded).
    Returns the lines that break the rule. -#}
with lines as (
    select * from {{ ref('fct_billing_lines') }}
),

final as (
    select
        billing_line_id,
        amount,
        amount_rounded,
        minor_unit
    from lines
    where amount_rounded != {{ round_money('amount', 'minor_unit') }}
)

select * from final
