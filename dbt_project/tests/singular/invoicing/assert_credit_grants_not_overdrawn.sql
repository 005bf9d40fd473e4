{{ config(tags=['invoicing']) }}
{#- A prepaid credit grant never pays more than it holds, and the credits applied to an invoice
    never exceed its tax-inclusive total: no negative balance, no negative amount due. -#}
with balances as (
    select * from {{ ref('fct_credit_balances') }}
),

burn as (
    select * from {{ ref('int_invoice_credit_burn') }}
),

overdrawn as (
    select
        grant_id as failing_key,
        'grant overdrawn' as problem
    from balances
    where
        balance < 0
        or amount_used > amount_granted
        or amount_used + amount_expired + balance != amount_granted
),

invoice_credits as (
    select
        invoice_id,
        max(invoice_total) as invoice_total,
        sum(used) as credits_applied
    from burn
    group by invoice_id
),

negative as (
    select
        invoice_id as failing_key,
        'credits exceed the invoice total' as problem
    from invoice_credits
    where credits_applied > invoice_total
),

final as (
    select * from overdrawn
    union all
    select * from negative
)

select * from final
