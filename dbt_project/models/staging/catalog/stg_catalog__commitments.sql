{{ stage_catalog_table(source('raw', 'catalog_commitments'), [
    'commitment_id', 'subscription_id', 'plan_id', 'amount:amount', 'currency', 'effective_from:date',
    'effective_to:date',
]) }}
