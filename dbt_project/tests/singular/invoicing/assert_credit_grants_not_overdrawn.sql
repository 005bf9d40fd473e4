{{ config(tags=['invoicing']) }}
{#- A prepaid credit grant never pays more than it holds, and the credits applied to an invoice
    never exceed its tax-inclusive total: no negative balance, no negative amount due. -#}
with balances as (
    select grant_id, amount_granted, amount_used, amount_expired, balance
    from {{ ref('fct_credit_balances') }}
),

-- the issued invoices that credits paid: credits_applied is the sum of the ledger's
-- credit_applied lines, checked against the issued total, not against the burn model's own demand
paid_by_credits as (
    select invoice_id, total, credits_applied
    from {{ ref('fct_invoices') }}
    where credits_applied > 0
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

negative as (
    select
        invoice_id as failing_key,
        'credits exceed the invoice total' as problem
    from paid_by_credits
    where credits_applied > total
),

final as (
    select * from overdrawn
    union all
    select * from negative
)

select * from final
