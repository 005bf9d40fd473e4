{{ config(materialized='table', schema='marketplace') }}

{#- Marketplace reconciliation per marketplace, customer (tenant_id, customer_id) and month, in the listing currency (USD):
    what usagebill billed for the hours the customer was subscribed on the marketplace, against what the
    marketplace accepted (the reporting ledger's answers) and what its billing feed billed.

    - billed_amount: intermediate.int_marketplace__billed_hourly of the meters the listing reports,
      converted hour by hour through staging.stg_marketplace__fx_rates (latest effective_date <= the
      hour's date); an hour without a rate makes status 'no_rate'.
    - accepted_amount: ledger keys acknowledged / duplicate (at the marketplace's quantity);
      unconfirmed_amount: sent / unconfirmed / planned (no definite answer yet); both x unit price.
    - outstanding_amount = cumulative billed - cumulative (accepted + unconfirmed) through the month's end:
      usage still to be reported (a fractional remainder, a failed or carried hour) goes with the next
      reported hour, so a positive outstanding is expected; a NEGATIVE one beyond rounding means the
      marketplace holds more than usagebill billed: status 'over_reported'.
    - feed_billed_amount: marketplace.fct_marketplace_revenue (AWS billing events, Azure transactions,
      Google usage reports already loaded); when the feed has the customer-month and differs from
      accepted + unconfirmed by more than one cent per reported dimension-hour rounding (0.01):
      status 'feed_mismatch'.
    blocks_export: the reporters skip exactly these customers on that marketplace (their usage stays in
    the running total) until the difference is resolved; other customers keep reporting. -#}

with billed_hourly as (
    select
        tenant_id,
        customer_id,
        meter_id,
        dimensions_json,
        hour_start,
        billed_amount,
        currency
    from {{ ref('int_marketplace__billed_hourly') }}
),

identities as (
    select
        marketplace,
        offering_id,
        tenant_id,
        customer_id,
        valid_from,
        valid_to
    from {{ ref('stg_marketplace__identities') }}
    where state = 'subscribed'
),

reported_meters as (
    select distinct
        marketplace,
        offering_id,
        meter_id,
        currency as listing_currency
    from {{ ref('stg_marketplace__dimensions') }}
),

rates as (
    select
        from_currency,
        to_currency,
        effective_date,
        rate
    from {{ ref('stg_marketplace__fx_rates') }}
),

ledger as (
    select
        marketplace,
        tenant_id,
        customer_id,
        hour_start,
        currency,
        state,
        quantity,
        reported_amount
    from {{ ref('fct_marketplace_reporting_ledger') }}
),

feed as (
    select
        marketplace,
        tenant_id,
        customer_id,
        revenue_month as reconciliation_month,
        currency,
        billed_amount as feed_billed_amount
    from {{ ref('fct_marketplace_revenue') }}
),

billed_subscribed as (
    select
        identities.marketplace,
        billed_hourly.tenant_id,
        billed_hourly.customer_id,
        billed_hourly.meter_id,
        billed_hourly.dimensions_json,
        billed_hourly.hour_start,
        billed_hourly.billed_amount,
        billed_hourly.currency,
        reported_meters.listing_currency
    from billed_hourly
    inner join identities
        on
            billed_hourly.tenant_id = identities.tenant_id
            and billed_hourly.customer_id = identities.customer_id
            and billed_hourly.hour_start >= identities.valid_from
            and (identities.valid_to is null or billed_hourly.hour_start < identities.valid_to)
    inner join reported_meters
        on
            identities.marketplace = reported_meters.marketplace
            and identities.offering_id = reported_meters.offering_id
            and billed_hourly.meter_id = reported_meters.meter_id
),

rate_candidates as (
    select
        billed_subscribed.*,
        rates.rate,
        row_number() over (
            partition by
                billed_subscribed.marketplace, billed_subscribed.tenant_id, billed_subscribed.customer_id,
                billed_subscribed.meter_id,
                billed_subscribed.dimensions_json, billed_subscribed.hour_start
            order by rates.effective_date desc
        ) as rate_rank
    from billed_subscribed
    left join rates
        on
            billed_subscribed.currency = rates.from_currency
            and billed_subscribed.listing_currency = rates.to_currency
            and rates.effective_date <= cast(billed_subscribed.hour_start as date)
),

billed_listing as (
    select
        marketplace,
        tenant_id,
        customer_id,
        cast({{ trunc_to('month', 'hour_start') }} as date) as reconciliation_month,
        listing_currency,
        case
            when currency = listing_currency then billed_amount
            else billed_amount * rate
        end as billed_listing_amount,
        case when currency != listing_currency and rate is null then 1 else 0 end as missing_rate
    from rate_candidates
    where rate_rank = 1
),

billed_monthly as (
    select
        marketplace,
        tenant_id,
        customer_id,
        reconciliation_month,
        max(listing_currency) as currency,
        cast(sum(billed_listing_amount) as decimal(38, 12)) as billed_amount,
        cast(sum(missing_rate) as bigint) as hours_without_rate
    from billed_listing
    group by marketplace, tenant_id, customer_id, reconciliation_month
),

ledger_monthly as (
    select
        marketplace,
        tenant_id,
        customer_id,
        cast({{ trunc_to('month', 'hour_start') }} as date) as reconciliation_month,
        max(currency) as currency,
        cast(sum(case when state in ('acknowledged', 'duplicate') then reported_amount else 0 end)
            as decimal(38, 12)) as accepted_amount,
        cast(sum(case when state in ('sent', 'unconfirmed', 'planned') then reported_amount else 0 end)
            as decimal(38, 12)) as unconfirmed_amount,
        cast(sum(case when state = 'failed' then 1 else 0 end) as bigint) as failed_keys,
        cast(sum(case when state in ('acknowledged', 'duplicate', 'sent', 'unconfirmed', 'planned')
            and quantity > 0 then 1 else 0 end) as bigint) as reported_keys
    from ledger
    group by marketplace, tenant_id, customer_id, cast({{ trunc_to('month', 'hour_start') }} as date)
),

feed_monthly as (
    select
        marketplace,
        tenant_id,
        customer_id,
        reconciliation_month,
        max(currency) as currency,
        cast(sum(feed_billed_amount) as decimal(38, 12)) as feed_billed_amount
    from feed
    group by marketplace, tenant_id, customer_id, reconciliation_month
),

{%- set month_keys = ['marketplace', 'tenant_id', 'customer_id', 'reconciliation_month'] %}

months as (
    select marketplace, tenant_id, customer_id, reconciliation_month from billed_monthly
    union
    select marketplace, tenant_id, customer_id, reconciliation_month from ledger_monthly
    union
    select marketplace, tenant_id, customer_id, reconciliation_month from feed_monthly
),

joined as (
    select
        months.marketplace,
        months.tenant_id,
        months.customer_id,
        months.reconciliation_month,
        coalesce(billed_monthly.currency, ledger_monthly.currency, feed_monthly.currency) as currency,
        coalesce(billed_monthly.billed_amount, 0) as billed_amount,
        coalesce(billed_monthly.hours_without_rate, 0) as hours_without_rate,
        coalesce(ledger_monthly.accepted_amount, 0) as accepted_amount,
        coalesce(ledger_monthly.unconfirmed_amount, 0) as unconfirmed_amount,
        coalesce(ledger_monthly.failed_keys, 0) as failed_keys,
        coalesce(ledger_monthly.reported_keys, 0) as reported_keys,
        feed_monthly.feed_billed_amount
    from months
    {%- for monthly in ['billed_monthly', 'ledger_monthly', 'feed_monthly'] %}
    left join {{ monthly }}
        on
            {{ keys_match(month_keys, 'months', monthly) }}
    {%- endfor %}
),

cumulative as (
    select
        joined.*,
        sum(billed_amount - accepted_amount - unconfirmed_amount) over (
            partition by marketplace, tenant_id, customer_id
            order by reconciliation_month
            rows between unbounded preceding and current row
        ) as outstanding_amount
    from joined
),

final as (
    select
        marketplace,
        tenant_id,
        customer_id,
        reconciliation_month,
        currency,
        cast(billed_amount as decimal(38, 12)) as billed_amount,
        cast(accepted_amount as decimal(38, 12)) as accepted_amount,
        cast(unconfirmed_amount as decimal(38, 12)) as unconfirmed_amount,
        cast(outstanding_amount as decimal(38, 12)) as outstanding_amount,
        cast(feed_billed_amount as decimal(38, 12)) as feed_billed_amount,
        cast(feed_billed_amount - accepted_amount - unconfirmed_amount as decimal(38, 12)) as feed_difference,
        failed_keys,
        hours_without_rate,
        cast(case
            when hours_without_rate > 0 then 'no_rate'
            when outstanding_amount < -0.000001 then 'over_reported'
            when feed_billed_amount is not null
                and abs(feed_billed_amount - accepted_amount - unconfirmed_amount)
                > 0.01 + 0.005 * reported_keys then 'feed_mismatch'
            else 'ok'
        end as {{ dbt.type_string() }}) as status
    from cumulative
),

flagged as (
    select
        final.*,
        final.status != 'ok' as blocks_export
    from final
)

select * from flagged
