{#- Every computed invoice line in the documented order of invoice arithmetic (docs/invoices.md):
    the taxed fee, discount and true-up lines (int_invoice_lines_taxed), then one `credit_applied`
    line per prepaid credit grant that pays part of the invoice's tax-inclusive total
    (int_invoice_credit_burn). A credit line is a means of payment, outside the taxable base:
    amount = -credit applied; net_amount, tax_amount and gross_amount are 0, so the invoice total
    (taxable amount + tax) stays the sum of gross amounts and amount_due = total - credits applied.
    Credit lines are numbered after the invoice's other lines, in burn order. -#}

{#- The columns of a computed invoice line, in order: the charge lines of int_invoice_lines_taxed and
    the credit lines below, united by name. -#}
{%- set line_columns = [
    'invoice_id', 'billing_line_id', 'line_number', 'tenant_id', 'customer_id', 'subscription_id',
    'plan_id', 'plan_version', 'charge_id', 'description', 'price_model', 'line_type',
    'line_type_order', 'billing_timing', 'period_start', 'period_end', 'billing_period_start',
    'billing_period_end', 'billing_date', 'issue_date', 'is_closed', 'quantity', 'included_quantity',
    'unit_price', 'amount_full_precision', 'amount', 'currency', 'minor_unit', 'dimensions_json',
    'tier_breakdown_json', 'customer_country', 'customer_tax_id', 'is_reverse_charge', 'tax_rate_id',
    'tax_name', 'tax_rate', 'is_tax_inclusive', 'tax_note', 'tax_amount', 'net_amount', 'gross_amount',
] %}

with taxed as (
    select * from {{ ref('int_invoice_lines_taxed') }}
),

burn as (
    select * from {{ ref('int_invoice_credit_burn') }}
    where used > 0
),

grants as (
    select * from {{ ref('stg_catalog__credit_grants') }}
),

invoices as (
    select
        invoice_id,
        max(line_number) as last_line_number,
        min(period_start) as period_start,
        max(period_end) as period_end,
        min(billing_period_start) as billing_period_start,
        max(billing_period_end) as billing_period_end,
        max(plan_id) as plan_id,
        max(plan_version) as plan_version,
        max(billing_date) as billing_date,
        max(issue_date) as issue_date,
        bool_or(is_closed) as is_closed,
        max(minor_unit) as minor_unit,
        max(customer_country) as customer_country,
        max(customer_tax_id) as customer_tax_id
    from taxed
    group by invoice_id
),

credit_lines as (
    select
        burn.invoice_id,
        {{ surrogate_key(['burn.invoice_id', "'credit_applied'", 'burn.grant_id']) }} as billing_line_id,
        invoices.last_line_number + row_number() over (
            partition by burn.invoice_id order by burn.burn_rank, burn.grant_id
        ) as line_number,
        burn.tenant_id,
        burn.customer_id,
        burn.subscription_id,
        invoices.plan_id,
        invoices.plan_version,
        burn.grant_id as charge_id,
        'Prepaid credit applied' || case
            when grants.description is null or grants.description = '' then ' (' || burn.grant_id || ')'
            else ' (' || grants.description || ')'
        end as description,
        'prepaid_credit' as price_model,
        'credit_applied' as line_type,
        7 as line_type_order,
        'in_arrears' as billing_timing,
        invoices.period_start,
        invoices.period_end,
        invoices.billing_period_start,
        invoices.billing_period_end,
        invoices.billing_date,
        invoices.issue_date,
        invoices.is_closed,
        cast(1 as decimal(38, 12)) as quantity,
        cast(null as decimal(38, 12)) as included_quantity,
        cast(null as decimal(38, 12)) as unit_price,
        cast(-1 * burn.used as decimal(38, 12)) as amount_full_precision,
        {{ round_money('-1 * burn.used', 'invoices.minor_unit') }} as amount,
        burn.currency,
        invoices.minor_unit,
        '{}' as dimensions_json,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json,
        invoices.customer_country,
        invoices.customer_tax_id,
        false as is_reverse_charge,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as tax_name,
        cast(null as decimal(38, 12)) as tax_rate,
        false as is_tax_inclusive,
        cast(null as {{ dbt.type_string() }}) as tax_note,
        cast(0 as decimal(38, 12)) as tax_amount,
        cast(0 as decimal(38, 12)) as net_amount,
        cast(0 as decimal(38, 12)) as gross_amount
    from burn
    inner join invoices on burn.invoice_id = invoices.invoice_id
    left join grants on burn.tenant_id = grants.tenant_id and burn.grant_id = grants.grant_id
),

final as (
    select {{ line_columns | join(', ') }} from taxed
    union all
    select {{ line_columns | join(', ') }} from credit_lines
)

select * from final
