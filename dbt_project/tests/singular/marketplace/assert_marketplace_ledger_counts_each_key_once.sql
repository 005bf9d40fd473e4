{#- Exactly once: no report key has two different acknowledged quantities in the append-only ledger. -#}
select
    marketplace,
    tenant_id,
    customer_id,
    dimension,
    hour_start,
    count(distinct quantity) as quantities
from {{ ref('stg_marketplace__reports') }}
where state in ('acknowledged', 'duplicate')
group by marketplace, tenant_id, customer_id, dimension, hour_start
having count(distinct quantity) > 1
