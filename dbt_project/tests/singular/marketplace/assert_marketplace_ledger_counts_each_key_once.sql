{#- Exactly once: no report key (macro marketplace_report_key) has two different acknowledged quantities
    in the append-only ledger. -#}
select
    {{ marketplace_report_key() }},
    count(distinct quantity) as quantities
from {{ ref('stg_marketplace__reports') }}
where state in ('acknowledged', 'duplicate')
group by {{ marketplace_report_key() }}
having count(distinct quantity) > 1
