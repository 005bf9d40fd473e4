{#- Append-only register of issued invoice headers: one row per invoice, appended by the run that
    issued it and never updated (incremental append, full_refresh disabled). Totals are the sums of
    the invoice's rounded lines in billing.fct_issued_lines. -#}
{{ config(
    materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='fail',
    schema='billing',
) }}

with issued_lines as (
    select * from {{ ref('fct_issued_lines') }}
    where document_type = 'invoice'
    {%- if is_incremental() %}
        and document_id not in (select invoice_id from {{ this }})
    {%- endif %}
),

headers as (
    select
        document_id as invoice_id,
        max(document_number) as invoice_number,
        max(document_sequence) as invoice_sequence,
        max(issuer_id) as issuer_id,
        tenant_id,
        customer_id,
        subscription_id,
        currency,
        max(document_period_start) as period_start,
        max(document_period_end) as period_end,
        max(issue_date) as issue_date,
        max(due_date) as due_date,
        max(minor_unit) as minor_unit,
        sum(net_amount) as subtotal,
        sum(tax_amount) as tax_amount,
        sum(gross_amount) as total,
        count(*) as line_count,
        bool_or(is_reverse_charge) as is_reverse_charge,
        bool_or(line_type = 'adjustment') as has_adjustment_lines,
        max(buyer_name) as buyer_name,
        max(buyer_email) as buyer_email,
        max(buyer_address_json) as buyer_address_json,
        max(buyer_tax_id) as buyer_tax_id,
        max(buyer_country) as buyer_country,
        max(issuer_legal_name) as issuer_legal_name,
        max(issuer_address_json) as issuer_address_json,
        max(issuer_tax_id) as issuer_tax_id,
        max(issuer_country) as issuer_country,
        max(issuer_email) as issuer_email,
        max(payment_terms_days) as payment_terms_days,
        max(issued_at) as issued_at
    from issued_lines
    group by document_id, tenant_id, customer_id, subscription_id, currency
),

final as (
    select
        invoice_id,
        invoice_number,
        cast(invoice_sequence as bigint) as invoice_sequence,
        issuer_id,
        tenant_id,
        customer_id,
        subscription_id,
        currency,
        period_start,
        period_end,
        issue_date,
        due_date,
        cast(subtotal as decimal(38, 12)) as subtotal,
        cast(tax_amount as decimal(38, 12)) as tax_amount,
        cast(total as decimal(38, 12)) as total,
        {{ to_minor_units('total', 'minor_unit') }} as total_minor,
        minor_unit,
        cast(line_count as integer) as line_count,
        is_reverse_charge,
        has_adjustment_lines,
        buyer_name,
        buyer_email,
        buyer_address_json,
        buyer_tax_id,
        buyer_country,
        issuer_legal_name,
        issuer_address_json,
        issuer_tax_id,
        issuer_country,
        issuer_email,
        payment_terms_days,
        issued_at
    from headers
)

select * from final
