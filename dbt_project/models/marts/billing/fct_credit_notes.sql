{#- Credit and debit notes issued for invoices whose figures changed after issue (late usage,
    restatements). Amounts are signed: a credit note is negative, a debit note positive, so
    invoice total + its notes = what the customer owes for the period today. A note follows the
    invoice's order of arithmetic (docs/invoices.md): subtotal (fees) - discount_total =
    taxable_amount; + tax_amount = amount (= total, tax included); - credits_applied (prepaid credits,
    after tax) = amount_due. The kind (credit/debit) follows the sign of the tax-inclusive total. -#}
{{ config(schema='billing', materialized='table') }}

with note_lines as (
    select
        document_id, document_number, document_sequence, document_type, source_invoice_id, source_invoice_number,
        tenant_id, customer_id, subscription_id, currency, document_period_start, document_period_end,
        reason, line_type, amount, net_amount, tax_amount, gross_amount, minor_unit, issue_date, due_date
    from {{ ref('fct_issued_lines') }}
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
        sum(net_amount) as taxable_amount,
        -1 * sum(case when line_type = 'discount' then net_amount else 0 end) as discount_total,
        -1 * sum(case when line_type = 'credit_applied' then amount else 0 end) as credits_applied,
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
        -- the service period of the corrected invoice
        period_start,
        period_end,
        tenant_id,
        customer_id,
        subscription_id,
        currency,
        reason,
        cast(taxable_amount + discount_total as decimal(38, 12)) as subtotal,
        cast(tax_amount as decimal(38, 12)) as tax_amount,
        cast(amount as decimal(38, 12)) as amount,
        {{ to_minor_units('amount', 'minor_unit') }} as amount_minor,
        cast(discount_total as decimal(38, 12)) as discount_total,
        cast(taxable_amount as decimal(38, 12)) as taxable_amount,
        {{ to_minor_units('taxable_amount', 'minor_unit') }} as taxable_amount_minor,
        {{ to_minor_units('tax_amount', 'minor_unit') }} as tax_amount_minor,
        cast(amount as decimal(38, 12)) as total,
        cast(credits_applied as decimal(38, 12)) as credits_applied,
        {{ to_minor_units('credits_applied', 'minor_unit') }} as credits_applied_minor,
        cast(amount - credits_applied as decimal(38, 12)) as amount_due,
        {{ to_minor_units('(amount - credits_applied)', 'minor_unit') }} as amount_due_minor,
        issue_date,
        due_date,
        cast(line_count as integer) as line_count
    from headers
)

select * from final
