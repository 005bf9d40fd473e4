{#- Every marketplace revenue feed row as one line: billed amount, listing fee and payout, in the
    line's currency, with the usagebill customer (tenant_id, customer_id) it belongs to; a line whose
    marketplace customer has no identity is kept as tenant '(unmapped)', customer 'unmapped:<id>'.
    - aws: billed = SELLER_REV_SHARE of INVOICED and FORGIVEN events (forgiven rows are negative);
      fee = minus AWS_REV_SHARE of those events, as the feed states it (DISBURSED rows are cash
      movements, not revenue, and are left out); expected_fee = billed x the configured percent.
    - azure, google: the feeds give the billed amount; fee = billed x configured percent / 100,
      rounded once half-up to the currency's minor unit (Azure 3%: $100.00 billed pays out $97.00). -#}

with aws_events as (
    select
        invoice_id,
        end_user_account_id,
        product_id,
        invoice_date,
        currency,
        action,
        transaction_type,
        amount
    from {{ ref('stg_marketplace__aws_billing_events') }}
),

azure_rows as (
    select
        transaction_id,
        resource_id,
        offer_id,
        transaction_date,
        currency,
        billed_amount
    from {{ ref('stg_marketplace__azure_transactions') }}
),

google_rows as (
    select
        report_line_id,
        usage_reporting_id,
        product_id,
        usage_date,
        currency,
        billed_amount
    from {{ ref('stg_marketplace__google_usage_reports') }}
),

identities as (
    select distinct
        tenant_id,
        customer_id,
        marketplace,
        account_id,
        customer_identifier,
        resource_id,
        usage_reporting_id
    from {{ ref('stg_marketplace__identities') }}
),

fees as (
    select marketplace, listing_fee_pct from {{ ref('stg_marketplace__fees') }}
),

currencies as (
    select currency, minor_unit from {{ ref('stg_catalog__currencies') }}
),

aws_invoices as (
    select
        'aws' as marketplace,
        invoice_id as source_id,
        end_user_account_id as marketplace_customer,
        product_id,
        min(invoice_date) as revenue_date,
        currency,
        sum(case when transaction_type = 'SELLER_REV_SHARE' then amount else 0 end) as billed_amount,
        -1 * sum(case when transaction_type = 'AWS_REV_SHARE' then amount else 0 end) as feed_fee
    from aws_events
    where action in ('INVOICED', 'FORGIVEN')
    group by invoice_id, end_user_account_id, product_id, currency
),

other_lines as (
    select
        'azure' as marketplace,
        transaction_id as source_id,
        resource_id as marketplace_customer,
        offer_id as product_id,
        transaction_date as revenue_date,
        currency,
        billed_amount,
        cast(null as decimal(38, 12)) as feed_fee
    from azure_rows
    union all
    select
        'google' as marketplace,
        report_line_id as source_id,
        usage_reporting_id as marketplace_customer,
        product_id,
        usage_date as revenue_date,
        currency,
        billed_amount,
        cast(null as decimal(38, 12)) as feed_fee
    from google_rows
),

all_lines as (
    select * from aws_invoices
    union all
    select * from other_lines
),

priced as (
    select
        all_lines.*,
        fees.listing_fee_pct,
        {{ round_money(safe_divide(decimal_multiply('all_lines.billed_amount', 'fees.listing_fee_pct'), '100'),
            'currencies.minor_unit') }} as expected_fee
    from all_lines
    inner join fees
        on all_lines.marketplace = fees.marketplace
    left join currencies
        on all_lines.currency = currencies.currency
),

final as (
    select
        priced.marketplace,
        priced.source_id,
        cast(coalesce(identities.tenant_id, '(unmapped)') as {{ dbt.type_string() }}) as tenant_id,
        coalesce(identities.customer_id, 'unmapped:' || priced.marketplace_customer) as customer_id,
        priced.marketplace_customer,
        priced.product_id,
        cast(priced.revenue_date as date) as revenue_date,
        cast({{ trunc_to('month', 'priced.revenue_date') }} as date) as revenue_month,
        priced.currency,
        cast(priced.billed_amount as decimal(38, 12)) as billed_amount,
        cast(coalesce(priced.feed_fee, priced.expected_fee) as decimal(38, 12)) as listing_fee,
        cast(priced.billed_amount - coalesce(priced.feed_fee, priced.expected_fee) as decimal(38, 12)) as net_payout,
        cast(priced.expected_fee as decimal(38, 12)) as expected_fee,
        cast(priced.listing_fee_pct as decimal(38, 12)) as listing_fee_pct,
        case when priced.feed_fee is null then 'configured_pct' else 'feed' end as fee_source
    from priced
    left join identities
        on
            priced.marketplace = identities.marketplace
            and priced.marketplace_customer in (
                identities.account_id, identities.customer_identifier, identities.resource_id,
                identities.usage_reporting_id
            )
)

select * from final
