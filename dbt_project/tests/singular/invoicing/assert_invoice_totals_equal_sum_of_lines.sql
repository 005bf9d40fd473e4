{{ config(tags=['invoicing']) }}
{#- Every invoice's figures follow the order of invoice arithmetic (docs/invoices.md) and are sums of
    its rounded lines: taxable_amount = sum(net), tax_amount = sum(line tax) = sum of the per-rate
    taxes, total = taxable_amount + tax_amount = sum(gross), subtotal = taxable_amount +
    discount_total, credits_applied = the credit lines of the ledger, amount_due = total -
    credits_applied; the same in minor units. Returns the invoices that break it. -#}

with invoices as (
    select
        invoice_id, invoice_number,
        subtotal, discount_total, taxable_amount, tax_amount, total, credits_applied, amount_due,
        subtotal_minor, discount_total_minor, taxable_amount_minor, tax_amount_minor, total_minor,
        credits_applied_minor, amount_due_minor
    from {{ ref('fct_invoices') }}
),

lines as (
    select invoice_id, line_type, net_amount, tax_amount, gross_amount
    from {{ ref('fct_invoice_lines') }}
),

-- the prepaid credits of the ledger (credit lines are outside fct_invoice_lines' tax base)
credit_lines as (
    select document_id, amount
    from {{ ref('fct_issued_lines') }}
    where document_type = 'invoice' and line_type = 'credit_applied'
),

-- the per-rate taxes of each invoice
taxes as (
    select document_id, taxable_amount, tax_amount
    from {{ ref('fct_invoice_taxes') }}
    where document_type = 'invoice'
),

line_sums as (
    select
        invoice_id,
        sum(net_amount) as net_sum,
        sum(tax_amount) as tax_sum,
        sum(gross_amount) as gross_sum,
        -1 * sum(case when line_type = 'discount' then net_amount else 0 end) as discount_sum
    from lines
    group by invoice_id
),

credit_sums as (
    select
        document_id as invoice_id,
        -1 * sum(amount) as credit_sum
    from credit_lines
    group by document_id
),

tax_sums as (
    select
        document_id as invoice_id,
        sum(tax_amount) as rate_tax_sum,
        sum(taxable_amount) as rate_taxable_sum
    from taxes
    group by document_id
),

final as (
    select
        invoices.invoice_id,
        invoices.invoice_number,
        invoices.taxable_amount,
        line_sums.net_sum,
        invoices.tax_amount,
        line_sums.tax_sum,
        invoices.total,
        line_sums.gross_sum,
        invoices.credits_applied,
        invoices.amount_due
    from invoices
    left join line_sums on invoices.invoice_id = line_sums.invoice_id
    left join credit_sums on invoices.invoice_id = credit_sums.invoice_id
    left join tax_sums on invoices.invoice_id = tax_sums.invoice_id
    where line_sums.invoice_id is null
        or invoices.taxable_amount != line_sums.net_sum
        or invoices.taxable_amount != tax_sums.rate_taxable_sum
        or invoices.tax_amount != line_sums.tax_sum
        or invoices.tax_amount != tax_sums.rate_tax_sum
        or invoices.total != line_sums.gross_sum
        or invoices.total != invoices.taxable_amount + invoices.tax_amount
        or invoices.subtotal != invoices.taxable_amount + invoices.discount_total
        or invoices.discount_total != line_sums.discount_sum
        or invoices.credits_applied != coalesce(credit_sums.credit_sum, 0)
        or invoices.amount_due != invoices.total - invoices.credits_applied
        or invoices.total_minor != invoices.taxable_amount_minor + invoices.tax_amount_minor
        or invoices.subtotal_minor != invoices.taxable_amount_minor + invoices.discount_total_minor
        or invoices.amount_due_minor != invoices.total_minor - invoices.credits_applied_minor
)

select * from final
