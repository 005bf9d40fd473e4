{#- One billing channel per subscription: 'aws', 'azure', 'google' or 'stripe'.
    A subscription bills through a marketplace when its customer has an identity on that marketplace
    whose subscribed periods [valid_from, valid_to) overlap the subscription's billed service dates
    [first service_start, last service_end) in billing.fct_billing_lines (the marketplace then meters
    its usage: int_marketplace__billed_hourly);
    every other subscription bills through Stripe. A subscription matching two marketplaces is an
    error: the `unique` test on subscription_id fails and names it (fix data/catalog/
    marketplace_customers.yaml). Invoices of a marketplace subscription stay in the books
    (billing.fct_invoices.billing_channel) but are never exported to Stripe. -#}

{{ config(tags=['invoicing']) }}

with billing_lines as (
    select
        subscription_id,
        tenant_id,
        customer_id,
        plan_id,
        service_start,
        service_end
    from {{ ref('fct_billing_lines') }}
),

subscriptions as (
    select
        subscription_id,
        min(tenant_id) as tenant_id,
        min(customer_id) as customer_id,
        min(plan_id) as plan_id,
        min(service_start) as start_date,
        max(service_end) as end_date
    from billing_lines
    group by subscription_id
),

identities as (
    select
        marketplace,
        tenant_id,
        customer_id,
        cast(valid_from as date) as valid_from_date,
        cast(valid_to as date) as valid_to_date
    from {{ ref('stg_marketplace__identities') }}
    where state = 'subscribed'
),

marketplace_matches as (
    select distinct
        subscriptions.subscription_id,
        identities.marketplace
    from subscriptions
    inner join identities
        on
            subscriptions.tenant_id = identities.tenant_id
            and subscriptions.customer_id = identities.customer_id
            and (
                subscriptions.end_date is null
                or identities.valid_from_date < subscriptions.end_date
            )
            and (
                identities.valid_to_date is null
                or identities.valid_to_date > subscriptions.start_date
            )
),

final as (
    select
        subscriptions.subscription_id,
        subscriptions.tenant_id,
        subscriptions.customer_id,
        subscriptions.plan_id,
        cast(coalesce(marketplace_matches.marketplace, 'stripe') as {{ dbt.type_string() }}) as billing_channel
    from subscriptions
    left join marketplace_matches
        on subscriptions.subscription_id = marketplace_matches.subscription_id
)

select * from final
