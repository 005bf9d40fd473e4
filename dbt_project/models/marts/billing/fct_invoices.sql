{{ config(schema='billing', materialized='table') }}

with issued as (
    select * from {{ ref('fct_issued_invoices') }}
),

notes as (
    select * from {{ ref('fct_credit_notes') }}
),

-- billing channel of the invoice's subscription (marketplace helper; docs/marketplaces.md)
subscription_channels as (
    select * from {{ ref('int_marketplace__subscription_channels') }}
),

note_totals as (
    select
        original_invoice_id,
        count(*) as note_count,
        sum(amount) as notes_amount
    from notes
    group by original_invoice_id
),

final as (
    select
        issued.invoice_id,
        issued.invoice_number,
        issued.invoice_sequence,
        issued.issuer_id,
        issued.tenant_id,
        issued.customer_id,
        issued.subscription_id,
        issued.currency,
        issued.period_start,
        issued.period_end,
        issued.issue_date,
        issued.due_date,
        issued.subtotal,
        cast(case issued.minor_unit
            when 0 then issued.subtotal
            when 1 then issued.subtotal * 10
            when 2 then issued.subtotal * 100
            when 3 then issued.subtotal * 1000
        end as bigint) as subtotal_minor,
        issued.tax_amount,
        cast(case issued.minor_unit
            when 0 then issued.tax_amount
            when 1 then issued.tax_amount * 10
            when 2 then issued.tax_amount * 100
            when 3 then issued.tax_amount * 1000
        end as bigint) as tax_amount_minor,
        issued.total,
        issued.total_minor,
        'issued' as status,
        issued.line_count,
        issued.is_reverse_charge,
        issued.has_adjustment_lines,
        cast(coalesce(note_totals.note_count, 0) as integer) as credit_note_count,
        cast(issued.total + coalesce(note_totals.notes_amount, 0) as decimal(38, 12)) as total_after_notes,
        issued.buyer_name,
        issued.buyer_tax_id,
        issued.buyer_country,
        issued.payment_terms_days,
        -- one channel per subscription: stripe | aws | azure | google (only 'stripe' is exported to Stripe)
        cast(coalesce(subscription_channels.billing_channel, 'stripe') as {{ dbt.type_string() }}) as billing_channel
    from issued
    left join note_totals on issued.invoice_id = note_totals.original_invoice_id
    left join subscription_channels on issued.subscription_id = subscription_channels.subscription_id
)

select * from final
