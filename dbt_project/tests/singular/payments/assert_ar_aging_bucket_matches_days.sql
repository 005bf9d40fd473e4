-- Every aged invoice sits in the bucket its days past due say, and owes a positive amount.
select *
from {{ ref('fct_ar_aging') }}
where outstanding_minor <= 0
    or aging_bucket != case
        when days_past_due <= 0 then 'current'
        when days_past_due <= 30 then '1-30'
        when days_past_due <= 60 then '31-60'
        when days_past_due <= 90 then '61-90'
        else '90+'
    end
