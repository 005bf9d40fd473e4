{{ config(schema='billing', materialized='table') }}

{#- One row per line of a credit or debit note (billing.fct_credit_notes): the ledger's note lines
    of billing.fct_issued_lines under the note's names. -#}

with note_lines as (
    select
        issued_line_id, document_id, document_number, tenant_id, customer_id, line_number, source_invoice_id,
        billing_line_id, charge_id, line_type, description, quantity, unit_price, amount, minor_unit, tax_rate_id,
        tax_rate, tax_amount, net_amount, gross_amount, currency, period_start, period_end
    from {{ ref('fct_issued_lines') }}
    where document_type in ('credit_note', 'debit_note')
),

final as (
    select
        issued_line_id as credit_note_line_id,
        document_id as credit_note_id,
        document_number as credit_note_number,
        -- who the note is for: every identity carries its tenant
        tenant_id,
        customer_id,
        line_number,
        source_invoice_id as original_invoice_id,
        billing_line_id,
        charge_id,
        line_type,
        description,
        quantity,
        unit_price,
        amount,
        {{ to_minor_units('amount', 'minor_unit') }} as amount_minor,
        tax_rate_id,
        tax_rate,
        tax_amount,
        net_amount,
        gross_amount,
        currency,
        period_start,
        period_end
    from note_lines
)

select * from final
