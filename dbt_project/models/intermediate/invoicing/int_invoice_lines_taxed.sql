{#- Tax per invoice line (docs/invoices.md "Tax"). Decided in this order:
    1. tax-exempt customer -> 0 %, rate id `exempt`;
    2. EU reverse charge: seller and customer in different EU member states, customer is a business
       with a tax (VAT) id -> 0 %, rate id `reverse_charge`, with the legally required note;
    3. otherwise the most specific rate of the customer's jurisdiction on the invoice's issue date:
       country over `*`, state over no state, customer_type over any.
    Order (docs/invoices.md "Invoice arithmetic"): lines here are fees, discounts and true-ups only,
    each already rounded once; they form the taxable base. Prepaid credits are applied later, to the
    tax-inclusive total (int_invoice_credit_burn), and never reduce the tax base.
    Rounding: tax is computed PER RATE on the invoice's rounded taxable amount of that rate and
    rounded once, half-up (EU VAT Directive 2006/112/EC art. 226(8)-(10): the taxable amount and the
    VAT payable per rate). Each line carries its share by cumulative rounding in line order:
    line tax = round(rate base through this line x rate) - round(rate base before it x rate), so the
    line taxes of a rate add up exactly to round(rate base x rate).
    exclusive: tax = round(base * rate), net = amount, gross = amount + tax;
    inclusive: tax = round(base * rate / (1 + rate)), net = amount - tax, gross = amount. -#}
{%- set reverse_charge_note = "Reverse charge: VAT to be accounted for by the recipient, "
    ~ "Art. 196 Council Directive 2006/112/EC" -%}

with customers as (
    select tenant_id, customer_id, country, address_json, customer_type, tax_id, tax_exempt
    from {{ ref('stg_catalog__customers') }}
),

rates as (
    select
        tax_rate_id, tax_name, rate, is_inclusive, tax_note,
        country, state, customer_type, valid_from, valid_to
    from {{ ref('stg_tax__rates') }}
),

-- the EU member states (seed)
eu as (
    select country
    from {{ ref('invoicing_eu_vat_countries') }}
),

-- the seller's country (reverse charge applies between two EU member states)
issuer as (
    select country
    from {{ ref('stg_tax__issuer') }}
),

-- the rounded invoice lines to tax
lines as (
    select * from {{ ref('int_invoice_lines_assigned') }}
),

customer_tax as (
    select
        customers.tenant_id,
        customers.customer_id,
        customers.country as customer_country,
        {{ json_property('customers.address_json', "'state'") }} as customer_state,
        customers.customer_type,
        nullif(trim(customers.tax_id), '') as customer_tax_id,
        coalesce(customers.tax_exempt, false) as is_tax_exempt,
        (
            customer_eu.country is not null
            and issuer_eu.country is not null
            and customers.country != issuer.country
            and customers.customer_type = 'business'
            and nullif(trim(customers.tax_id), '') is not null
        ) as is_reverse_charge
    from customers
    cross join issuer
    left join eu as customer_eu on customers.country = customer_eu.country
    left join eu as issuer_eu on issuer.country = issuer_eu.country
),

rate_candidates as (
    select
        lines.invoice_id,
        lines.billing_line_id,
        rates.tax_rate_id,
        rates.tax_name,
        rates.rate,
        rates.is_inclusive,
        rates.tax_note,
        row_number() over (
            partition by lines.invoice_id, lines.billing_line_id
            order by
                case when rates.country = '*' then 1 else 0 end,
                case when rates.state is null then 1 else 0 end,
                case when rates.customer_type is null then 1 else 0 end,
                rates.valid_from desc,
                rates.tax_rate_id asc
        ) as specificity_rank
    from lines
    inner join customer_tax
        on {{ columns_match('lines', 'customer_tax', ['tenant_id', 'customer_id']) }}
    inner join rates
        on (customer_tax.customer_country = rates.country or rates.country = '*')
            and (rates.state is null or customer_tax.customer_state = rates.state)
            and (rates.customer_type is null or customer_tax.customer_type = rates.customer_type)
            and lines.issue_date >= rates.valid_from
            and (rates.valid_to is null or lines.issue_date < rates.valid_to)
),

chosen as (
    select
        lines.*,
        customer_tax.customer_country,
        customer_tax.customer_tax_id,
        coalesce(customer_tax.is_reverse_charge and not customer_tax.is_tax_exempt, false) as is_reverse_charge,
        case
            when customer_tax.is_tax_exempt then 'exempt'
            when customer_tax.is_reverse_charge then 'reverse_charge'
            else rate_candidates.tax_rate_id
        end as tax_rate_id,
        case
            when customer_tax.is_tax_exempt then 'Exempt'
            when customer_tax.is_reverse_charge then 'VAT reverse charge'
            else rate_candidates.tax_name
        end as tax_name,
        case
            when customer_tax.is_tax_exempt or customer_tax.is_reverse_charge then cast(0 as decimal(38, 12))
            else rate_candidates.rate
        end as tax_rate,
        case
            when customer_tax.is_tax_exempt or customer_tax.is_reverse_charge then false
            else coalesce(rate_candidates.is_inclusive, false)
        end as is_tax_inclusive,
        case
            when customer_tax.is_tax_exempt then 'Tax exempt customer: no tax charged.'
            when customer_tax.is_reverse_charge then '{{ reverse_charge_note }}'
            else rate_candidates.tax_note
        end as tax_note
    from lines
    left join customer_tax
        on {{ columns_match('lines', 'customer_tax', ['tenant_id', 'customer_id']) }}
    left join rate_candidates
        on {{ columns_match('lines', 'rate_candidates', ['invoice_id', 'billing_line_id']) }}
            and rate_candidates.specificity_rank = 1
),

cumulative as (
    select
        chosen.*,
        sum(chosen.amount) over (
            partition by chosen.invoice_id, chosen.tax_rate_id
            order by chosen.line_number
            rows between unbounded preceding and current row
        ) as rate_base_through,
        coalesce(sum(chosen.amount) over (
            partition by chosen.invoice_id, chosen.tax_rate_id
            order by chosen.line_number
            rows between unbounded preceding and 1 preceding
        ), 0) as rate_base_before
    from chosen
),

unrounded as (
    select
        cumulative.*,
        case
            when is_tax_inclusive then {{ safe_divide(decimal_multiply('amount', 'tax_rate'), '(1 + tax_rate)') }}
            else {{ decimal_multiply('amount', 'tax_rate') }}
        end as tax_full_precision,
        case
            when is_tax_inclusive
                then {{ safe_divide(decimal_multiply('rate_base_through', 'tax_rate'), '(1 + tax_rate)') }}
            else {{ decimal_multiply('rate_base_through', 'tax_rate') }}
        end as rate_tax_through,
        case
            when is_tax_inclusive
                then {{ safe_divide(decimal_multiply('rate_base_before', 'tax_rate'), '(1 + tax_rate)') }}
            else {{ decimal_multiply('rate_base_before', 'tax_rate') }}
        end as rate_tax_before
    from cumulative
),

taxed as (
    select
        unrounded.*,
        cast({{ round_money('rate_tax_through', 'minor_unit') }} - {{ round_money('rate_tax_before', 'minor_unit') }}
            as decimal(38, 12)) as tax_amount
    from unrounded
),

final as (
    select
        taxed.*,
        cast(case when is_tax_inclusive then amount - tax_amount else amount end as decimal(38, 12)) as net_amount,
        cast(case when is_tax_inclusive then amount else amount + tax_amount end as decimal(38, 12)) as gross_amount
    from taxed
)

select * from final
