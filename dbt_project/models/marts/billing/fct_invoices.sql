{#- One row per issued invoice with its figures as separate columns, in the documented order of
    invoice arithmetic (docs/invoices.md "Invoice arithmetic"; Lago "invoice calculation": fees,
    then coupons/discounts, then taxes, then credits):
      subtotal        fees before discounts (every line except discounts and credits)
      discount_total  discounts and coupons, positive (they reduce the taxable base)
      taxable_amount  subtotal - discount_total (the tax base; per rate in fct_invoice_taxes)
      tax_amount      tax per rate on the rounded taxable amount, summed
      total           taxable_amount + tax_amount
      credits_applied prepaid credits paying the invoice, positive (after tax: never in the tax base)
      amount_due      total - credits_applied (what the customer pays)
    Each has a *_minor BIGINT twin (minor units of the currency, ISO 4217). -#}
{{ config(schema='billing', materialized='table') }}

with issued as (
    select
        invoice_id, invoice_number, invoice_sequence, issuer_id, issue_date, due_date, payment_terms_days,
        tenant_id, customer_id, subscription_id, currency, minor_unit, period_start, period_end,
        subtotal, tax_amount, total, total_minor, line_count, is_reverse_charge, has_adjustment_lines,
        buyer_name, buyer_tax_id, buyer_country
    from {{ ref('fct_issued_invoices') }}
),

-- the discount and credit lines of issued invoices (the other figures are on the header)
issued_lines as (
    select document_id, line_type, amount, net_amount
    from {{ ref('fct_issued_lines') }}
    where document_type = 'invoice' and line_type in ('discount', 'credit_applied')
),

-- the credit/debit notes issued for each invoice since: how many, their signed totals
note_totals as (
    select
        original_invoice_id,
        count(*) as note_count,
        sum(amount) as notes_amount,
        sum(amount_due) as notes_amount_due
    from {{ ref('fct_credit_notes') }}
    group by original_invoice_id
),

-- billing channel of the invoice's subscription (marketplace helper; docs/marketplaces.md)
subscription_channels as (
    select subscription_id, billing_channel
    from {{ ref('int_marketplace__subscription_channels') }}
),

line_figures as (
    select
        document_id as invoice_id,
        -1 * sum(case when line_type = 'discount' then net_amount else 0 end) as discount_total,
        -1 * sum(case when line_type = 'credit_applied' then amount else 0 end) as credits_applied
    from issued_lines
    group by document_id
),

figures as (
    select
        issued.*,
        cast(coalesce(line_figures.discount_total, 0) as decimal(38, 12)) as discount_total,
        cast(issued.subtotal as decimal(38, 12)) as taxable_amount,
        cast(coalesce(line_figures.credits_applied, 0) as decimal(38, 12)) as credits_applied
    from issued
    left join line_figures on issued.invoice_id = line_figures.invoice_id
),

final as (
    select
        figures.invoice_id,
        figures.invoice_number,
        figures.invoice_sequence,
        figures.issuer_id,
        figures.tenant_id,
        figures.customer_id,
        figures.subscription_id,
        figures.currency,
        figures.period_start,
        figures.period_end,
        figures.issue_date,
        figures.due_date,
        cast(figures.taxable_amount + figures.discount_total as decimal(38, 12)) as subtotal,
        {{ to_minor_units('(figures.taxable_amount + figures.discount_total)', 'figures.minor_unit') }} as subtotal_minor,
        figures.tax_amount,
        {{ to_minor_units('figures.tax_amount', 'figures.minor_unit') }} as tax_amount_minor,
        figures.total,
        figures.total_minor,
        figures.discount_total,
        {{ to_minor_units('figures.discount_total', 'figures.minor_unit') }} as discount_total_minor,
        figures.taxable_amount,
        {{ to_minor_units('figures.taxable_amount', 'figures.minor_unit') }} as taxable_amount_minor,
        figures.credits_applied,
        {{ to_minor_units('figures.credits_applied', 'figures.minor_unit') }} as credits_applied_minor,
        cast(figures.total - figures.credits_applied as decimal(38, 12)) as amount_due,
        {{ to_minor_units('(figures.total - figures.credits_applied)', 'figures.minor_unit') }} as amount_due_minor,
        figures.minor_unit,
        'issued' as status,
        figures.line_count,
        figures.is_reverse_charge,
        figures.has_adjustment_lines,
        cast(coalesce(note_totals.note_count, 0) as integer) as credit_note_count,
        cast(figures.total + coalesce(note_totals.notes_amount, 0) as decimal(38, 12)) as total_after_notes,
        cast(figures.total - figures.credits_applied + coalesce(note_totals.notes_amount_due, 0) as decimal(38, 12))
            as amount_due_after_notes,
        figures.buyer_name,
        figures.buyer_tax_id,
        figures.buyer_country,
        figures.payment_terms_days,
        -- one channel per subscription: stripe | aws | azure | google (only 'stripe' is exported to Stripe)
        cast(coalesce(subscription_channels.billing_channel, 'stripe') as {{ dbt.type_string() }}) as billing_channel
    from figures
    left join note_totals on figures.invoice_id = note_totals.original_invoice_id
    left join subscription_channels on figures.subscription_id = subscription_channels.subscription_id
)

select * from final
