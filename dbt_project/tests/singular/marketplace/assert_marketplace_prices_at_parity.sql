{{ config(severity='warn') }}
{#- Marketplace prices that differ from the usagebill catalog beyond the tolerance (a warning: a
    deliberate channel price is possible, but it must be seen). -#}
select *
from {{ ref('fct_marketplace_price_parity') }}
where parity_status = 'flagged'
