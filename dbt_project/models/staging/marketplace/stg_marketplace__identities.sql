{{ config(tags=["invoicing"]) }}
{#- Customer marketplace identities and subscription state periods, keyed by (tenant_id, customer_id):
    customer ids are unique per tenant only (issue 11; marketplace_customers.yaml `tenant_id`, default
    'default').
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC (a trailing 'Z' is dropped).
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/identities', source('raw', 'marketplace_identities'), [
    'tenant_id', 'customer_id', 'marketplace', 'offering_id', 'marketplace_customer', 'account_id',
    'customer_identifier', 'license_arn', 'resource_id', 'plan_id', 'usage_reporting_id', 'state',
    'valid_from:utc_timestamp', 'valid_to:utc_timestamp',
]) }}
