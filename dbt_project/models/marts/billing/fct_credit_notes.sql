{#- Credit and debit notes issued for invoices whose figures changed after issue (late usage,
    restatements). Amounts are signed: a credit note is negative, a debit note positive, so
    invoice total + its notes = what the customer owes for the period today. -#}
{{ config(schema='billing', materialized='table') }}

with note_lines as (
    select * from {{ ref('fct_issued_lines') }}
    where document_type in ('credit_note', 'debit_note')
),

headers as (
    select
        document_id as credit_note_id,
        max(document_number) as credit_note_number,
        max(document_sequence) as credit_note_sequence,
        case when max(document_type) = 'credit_note' then 'credit' else 'debit' end as kind,
        max(source_invoice_id) as original_invoice_id,
        max(source_invoice_number) as original_invoice_number,
        max(tenant_id) as tenant_id,
        max(customer_id) as customer_id,
        max(subscription_id) as subscription_id,
        max(currency) as currency,
        max(document_period_start) as period_start,
        max(document_period_end) as period_end,
        max(reason) as reason,
        max(minor_unit) as minor_unit,
        sum(net_amount) as subtotal,
        sum(tax_amount) as tax_amount,
        sum(gross_amount) as amount,
        max(issue_date) as issue_date,
        max(due_date) as due_date,
        count(*) as line_count
    from note_lines
    group by document_id
),

final as (
    select
        credit_note_id,
        credit_note_number,
        cast(credit_note_sequence as bigint) as credit_note_sequence,
        kind,
        original_invoice_id,
        original_invoice_number,
        tenant_id,
        customer_id,
        subscription_id,
        currency,
        period_start,
        period_end,
        reason,
        cast(subtotal as decimal(38, 12)) as subtotal,
        cast(tax_amount as decimal(38, 12)) as tax_amount,
        cast(amount as decimal(38, 12)) as amount,
        cast(case minor_unit
            when 0 then amount
            when 1 then amount * 10
            when 2 then amount * 100
            when 3 then amount * 1000
        end as bigint) as amount_minor,
        issue_date,
        due_date,
        cast(line_count as integer) as line_count
    from headers
)

select * from final
