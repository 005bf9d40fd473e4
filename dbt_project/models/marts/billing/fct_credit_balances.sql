{{ config(materialized='table', schema='billing', tags=['invoicing']) }}

{#- One row per prepaid credit grant as of var('as_of_date'): granted, used by rated lines
    (credit_applied: credits pay invoices' tax-inclusive totals, int_invoice_credit_burn), expired (the unused balance of a grant whose expires_at <= as_of_date) and
    the balance still available. Burn order: earliest expiry first, then oldest grant. -#}

with grants as (
    select grant_id, tenant_id, customer_id, currency, description, granted_at, expires_at, amount
    from {{ ref('stg_catalog__credit_grants') }}
),

-- the credit each invoice took from each grant, dated by the invoice's due date
burn as (
    select grant_id, used, due_date
    from {{ ref('int_invoice_credit_burn') }}
),

used as (
    select
        grant_id,
        sum(used) as amount_used,
        max(case when used > 0 then due_date end) as last_used_on
    from burn
    group by grant_id
),

final as (
    select
        grants.grant_id,
        grants.tenant_id,
        grants.customer_id,
        grants.currency,
        grants.description,
        grants.granted_at,
        grants.expires_at,
        cast(grants.amount as decimal(38, 12)) as amount_granted,
        cast(coalesce(used.amount_used, 0) as decimal(38, 12)) as amount_used,
        cast(case when grants.expires_at is not null and grants.expires_at <= {{ as_of_date() }}
                then grants.amount - coalesce(used.amount_used, 0)
            else 0
        end as decimal(38, 12)) as amount_expired,
        cast(case when grants.expires_at is not null and grants.expires_at <= {{ as_of_date() }}
                then 0
            else grants.amount - coalesce(used.amount_used, 0)
        end as decimal(38, 12)) as balance,
        used.last_used_on,
        {{ as_of_date() }} as as_of_date
    from grants
    left join used
        on grants.grant_id = used.grant_id
)

select * from final
