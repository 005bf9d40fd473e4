{{ config(tags=['invoicing']) }}
{#- Every credit/debit note's amount, taxable amount and tax are the sums of its rounded lines,
    and its kind matches the sign of its amount. -#}

with notes as (
    select credit_note_id, credit_note_number, kind, amount, taxable_amount, tax_amount
    from {{ ref('fct_credit_notes') }}
),

lines as (
    select credit_note_id, gross_amount, net_amount, tax_amount
    from {{ ref('fct_credit_note_lines') }}
),

line_sums as (
    select
        credit_note_id,
        sum(gross_amount) as gross_sum,
        sum(net_amount) as net_sum,
        sum(tax_amount) as tax_sum
    from lines
    group by credit_note_id
),

final as (
    select
        notes.credit_note_id,
        notes.credit_note_number,
        notes.kind,
        notes.amount,
        line_sums.gross_sum,
        notes.taxable_amount,
        line_sums.net_sum,
        notes.tax_amount,
        line_sums.tax_sum
    from notes
    left join line_sums on notes.credit_note_id = line_sums.credit_note_id
    where line_sums.credit_note_id is null
        or notes.amount != line_sums.gross_sum
        or notes.taxable_amount != line_sums.net_sum
        or notes.tax_amount != line_sums.tax_sum
        or (notes.kind = 'credit' and notes.amount >= 0)
        or (notes.kind = 'debit' and notes.amount < 0)
)

select * from final
