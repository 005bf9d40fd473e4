{#- ARR = MRR x 12 for every customer-month. -#}
with

mrr as (
    select mrr_id, mrr from {{ ref('fct_mrr') }}
),

arr as (
    select arr_id, arr from {{ ref('fct_arr') }}
),

final as (
    select
        mrr.mrr_id,
        mrr.mrr,
        arr.arr
    from mrr
    left join arr
        on mrr.mrr_id = arr.arr_id
    where arr.arr is null or arr.arr != mrr.mrr * 12
)

select * from final
