-- Recovered + written off + retrying never exceeds what failed (voided invoices make up the rest).
select *
from {{ ref('fct_revenue_recovery') }}
where recovered_amount + written_off_amount + retrying_amount > failed_amount
    or recovered_invoices > failed_invoices
