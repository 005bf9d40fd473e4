{#- The issue step: an append-only ledger of every line ever issued on an invoice or a credit/debit
    note. Rows are never updated or deleted (incremental append, full_refresh disabled).
    Each run appends:
    1. the lines of invoices that closed (issue_date <= as_of_date) and were never issued, numbered
       gaplessly after the largest existing number in the order issue_date, tenant_id, customer_id,
       subscription_id, invoice_id;
    2. for invoices already issued: the difference between what the current computation says and
       what was already accounted for (the original lines plus earlier notes / adjustment lines),
       as a credit/debit note per original invoice (late_usage_mode = credit_note, the default) or
       as `adjustment` lines on the customer's next invoice issued in this run
       (late_usage_mode = adjustment_line; pending until that invoice closes).
    The same inputs give no new rows on a re-run (idempotent). -#}
{{ config(
    materialized='incremental', incremental_strategy='append', full_refresh=false,
    on_schema_change='append_new_columns',
    schema='billing',
) }}
{%- set as_of = var('as_of_date', run_started_at.strftime('%Y-%m-%d')) -%}
{%- set mode = var('late_usage_mode', 'credit_note') -%}
{%- if mode not in ['credit_note', 'adjustment_line'] -%}
    {{ exceptions.raise_compiler_error("dbt var late_usage_mode = '" ~ mode ~ "' is not supported: use credit_note or adjustment_line") }}
{%- endif %}
{%- set issue_notes = (mode == 'credit_note') %}
{#- Amount and tax columns every issued line carries, in ledger order (shared by invoice, note
    and adjustment lines; the ledger's existing columns never change; new columns are appended at
    the end: on_schema_change='append_new_columns', earlier rows keep null in them). -#}
{%- set line_amount_columns = [
    'period_start', 'period_end', 'quantity', 'unit_price', 'amount', 'tax_rate_id', 'tax_name', 'tax_rate',
    'is_tax_inclusive', 'tax_note', 'is_reverse_charge', 'tax_amount', 'net_amount', 'gross_amount', 'minor_unit',
] %}
{#- Of those, the amounts a correction restates by difference (current - already accounted); the
    others are attributes a correction carries from the original line. -#}
{%- set line_sum_columns = ['quantity', 'amount', 'tax_amount', 'net_amount', 'gross_amount'] %}
{%- set line_attribute_columns = line_amount_columns | reject('in', line_sum_columns) | list %}
{#- Who and what a line bills (after billing_line_id), the same on the original line and its corrections. -#}
{%- set line_party_columns = ['tenant_id', 'customer_id', 'subscription_id', 'currency', 'charge_id'] %}
{#- The ledger's DECIMAL(38, 12) columns (quantities, prices, rates, amounts): cast once, in final. -#}
{%- set ledger_decimal_columns = [
    'quantity', 'included_quantity', 'unit_price', 'amount', 'tax_rate', 'tax_amount', 'net_amount', 'gross_amount',
] %}
{#- Every column of a new ledger line after its document header, in ledger order (all_new_lines). -#}
{%- set new_line_columns = ['line_number', 'source_invoice_id', 'source_invoice_number', 'billing_line_id']
    + line_party_columns + ['line_type', 'description'] + line_amount_columns
    + ['reason', 'included_quantity', 'tier_breakdown_json'] %}

with computed as (
    select * from {{ ref('int_invoice_lines_credited') }}
),

-- the buyer printed on each document
customers as (
    select tenant_id, customer_id, name, email, address_json, tax_id, country
    from {{ ref('stg_catalog__customers') }}
),

-- the seller printed on each document, its numbering series and payment terms
issuer as (
    select
        issuer_id, legal_name, address_json, tax_id, country, email,
        invoice_prefix, credit_note_prefix, number_width, payment_terms_days
    from {{ ref('stg_tax__issuer') }}
),

-- when each event arrived: late usage is what arrived after its invoice was issued
journal as (
    select tenant_id, customer_id, event_ts, arrived_at
    from {{ ref('fct_usage_journal') }}
),

previously_issued as (
    {%- if is_incremental() %}
        select * from {{ this }}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as document_id,
            cast(null as {{ dbt.type_string() }}) as document_type,
            cast(null as {{ dbt.type_string() }}) as document_number,
            cast(null as {{ dbt.type_string() }}) as issuer_id,
            cast(null as bigint) as document_sequence,
            cast(null as {{ dbt.type_string() }}) as source_invoice_id,
            cast(null as {{ dbt.type_string() }}) as source_invoice_number,
            cast(null as {{ dbt.type_string() }}) as billing_line_id,
            cast(null as date) as issue_date,
            cast(null as date) as document_period_start,
            cast(null as date) as document_period_end,
            cast(null as {{ dbt.type_string() }}) as tenant_id,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as subscription_id,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_string() }}) as charge_id,
            cast(null as {{ dbt.type_string() }}) as line_type,
            cast(null as {{ dbt.type_string() }}) as description,
            cast(null as date) as period_start,
            cast(null as date) as period_end,
            cast(null as decimal(38, 12)) as quantity,
            cast(null as decimal(38, 12)) as unit_price,
            cast(null as decimal(38, 12)) as amount,
            cast(null as {{ dbt.type_string() }}) as tax_rate_id,
            cast(null as {{ dbt.type_string() }}) as tax_name,
            cast(null as decimal(38, 12)) as tax_rate,
            cast(null as boolean) as is_tax_inclusive,
            cast(null as {{ dbt.type_string() }}) as tax_note,
            cast(null as boolean) as is_reverse_charge,
            cast(null as decimal(38, 12)) as tax_amount,
            cast(null as decimal(38, 12)) as net_amount,
            cast(null as decimal(38, 12)) as gross_amount,
            cast(null as integer) as minor_unit,
            cast(null as {{ dbt.type_string() }}) as tier_breakdown_json
        where 1 = 0
    {%- endif %}
),

issued_invoices as (
    select
        document_id as invoice_id,
        max(document_number) as invoice_number,
        max(issue_date) as issue_date,
        max(document_period_start) as period_start,
        max(document_period_end) as period_end
    from previously_issued
    where document_type = 'invoice'
    group by document_id
),

-- 1. newly closed invoices
new_invoice_lines as (
    select computed.*
    from computed
    where computed.is_closed
        and computed.invoice_id not in (select issued_invoices.invoice_id from issued_invoices)
),

new_invoices as (
    select
        invoice_id,
        tenant_id,
        customer_id,
        subscription_id,
        currency,
        max(issue_date) as issue_date,
        min(period_start) as period_start,
        max(period_end) as period_end,
        max(line_number) as own_line_count
    from new_invoice_lines
    group by invoice_id, tenant_id, customer_id, subscription_id, currency
),

-- 2. corrections of invoices issued by earlier runs
accounted as (
    select
        source_invoice_id,
        billing_line_id,
        {%- for column in line_party_columns + ['line_type', 'description'] + line_attribute_columns %}
            {{ 'bool_or' if column.startswith('is_') else 'max' }}({{ column }}) as {{ column }},
        {%- endfor %}
        {%- for column in line_sum_columns %}
            sum({{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from previously_issued
    group by source_invoice_id, billing_line_id
),

current_of_issued as (
    select computed.*
    from computed
    inner join issued_invoices on computed.invoice_id = issued_invoices.invoice_id
),

deltas as (
    select
        coalesce(cur.invoice_id, acc.source_invoice_id) as source_invoice_id,
        coalesce(cur.billing_line_id, acc.billing_line_id) as billing_line_id,
        coalesce(cur.line_type, acc.line_type) as original_line_type,
        coalesce(cur.description, acc.description) as original_description,
        coalesce(cur.line_type_order, 9) as line_type_order,
        coalesce(cur.line_number, 999999) as original_line_number,
        {%- for column in line_party_columns + line_attribute_columns %}
            coalesce(cur.{{ column }}, acc.{{ column }}) as {{ column }},
        {%- endfor %}
        {%- for column in line_sum_columns %}
            coalesce(cur.{{ column }}, 0) - coalesce(acc.{{ column }}, 0) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from current_of_issued as cur
    full outer join accounted as acc
        on cur.invoice_id = acc.source_invoice_id
            and cur.billing_line_id = acc.billing_line_id
    where coalesce(cur.invoice_id, acc.source_invoice_id) in (select issued_invoices.invoice_id from issued_invoices)
),

changed as (
    select
        deltas.*,
        issued_invoices.invoice_number as source_invoice_number,
        issued_invoices.issue_date as source_issue_date,
        issued_invoices.period_start as source_period_start,
        issued_invoices.period_end as source_period_end
    from deltas
    inner join issued_invoices on deltas.source_invoice_id = issued_invoices.invoice_id
    where deltas.quantity != 0 or deltas.amount != 0 or deltas.tax_amount != 0
),

late_events as (
    select
        changed_invoices.source_invoice_id,
        count(journal.customer_id) as late_event_count
    from (
        select distinct
            source_invoice_id,
            tenant_id,
            customer_id,
            source_issue_date,
            source_period_start,
            source_period_end
        from changed
    ) as changed_invoices
    left join journal
        on changed_invoices.tenant_id = journal.tenant_id
            and changed_invoices.customer_id = journal.customer_id
            and journal.event_ts >= cast(changed_invoices.source_period_start as timestamp)
            and journal.event_ts < cast(changed_invoices.source_period_end as timestamp)
            and journal.arrived_at >= cast(changed_invoices.source_issue_date as timestamp)
    group by changed_invoices.source_invoice_id
),

-- every changed line with the number of its invoice's late events (0: a restatement), the input
-- of both correction forms (note_lines, adjustment_lines)
corrections as (
    select
        changed.*,
        coalesce(late_events.late_event_count, 0) as late_event_count
    from changed
    left join late_events on changed.source_invoice_id = late_events.source_invoice_id
),

note_counts as (
    select
        source_invoice_id,
        count(distinct document_id) as earlier_notes
    from previously_issued
    where document_type in ('credit_note', 'debit_note')
    group by source_invoice_id
),

new_notes as (
    select
        changed.source_invoice_id,
        max(changed.source_invoice_number) as source_invoice_number,
        max(changed.tenant_id) as tenant_id,
        max(changed.customer_id) as customer_id,
        max(changed.subscription_id) as subscription_id,
        max(changed.currency) as currency,
        max(changed.source_issue_date) as source_issue_date,
        max(changed.source_period_start) as period_start,
        max(changed.source_period_end) as period_end,
        sum(changed.gross_amount) as gross_total,
        'cn_' || substr(md5(
            changed.source_invoice_id || '|' || cast(coalesce(max(note_counts.earlier_notes), 0) + 1 as {{ dbt.type_string() }})
        ), 1, 24) as document_id
    from changed
    left join note_counts on changed.source_invoice_id = note_counts.source_invoice_id
    group by changed.source_invoice_id
),

note_lines as (
    select
        new_notes.document_id,
        case when new_notes.gross_total < 0 then 'credit_note' else 'debit_note' end as document_type,
        cast('{{ as_of }}' as date) as issue_date,
        new_notes.period_start as document_period_start,
        new_notes.period_end as document_period_end,
        row_number() over (
            partition by new_notes.document_id
            order by corrections.line_type_order, corrections.original_line_number, corrections.billing_line_id
        ) as line_number,
        {%- for column in ['source_invoice_id', 'source_invoice_number', 'billing_line_id'] + line_party_columns %}
            corrections.{{ column }},
        {%- endfor %}
        corrections.original_line_type as line_type,
        corrections.original_description as description,
        {%- for column in line_amount_columns %}
            corrections.{{ column }},
        {%- endfor %}
        case
            when corrections.late_event_count > 0
                then 'Late usage: ' || cast(corrections.late_event_count as {{ dbt.type_string() }})
                    || ' usage events for the service period arrived after invoice '
                    || corrections.source_invoice_number || ' was issued on '
                    || cast(corrections.source_issue_date as {{ dbt.type_string() }})
            else 'Restatement: rating or catalog changed after invoice '
                || corrections.source_invoice_number || ' was issued on '
                || cast(corrections.source_issue_date as {{ dbt.type_string() }})
        end as reason,
        cast(null as decimal(38, 12)) as included_quantity,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json
    from corrections
    inner join new_notes on corrections.source_invoice_id = new_notes.source_invoice_id
    -- late_usage_mode = credit_note: corrections are issued as credit/debit notes
    where {{ 'true' if issue_notes else 'false' }}
),

next_invoice as (
    select
        new_invoices.*,
        row_number() over (
            partition by tenant_id, customer_id, coalesce(subscription_id, ''), currency order by issue_date, invoice_id
        ) as rank_in_run
    from new_invoices
),

adjustment_lines as (
    -- selected by name in new_line_columns order (adjustments_dated): the reason comes first here
    select
        next_invoice.invoice_id as document_id,
        'invoice' as document_type,
        cast(null as date) as issue_date,
        cast(null as date) as document_period_start,
        cast(null as date) as document_period_end,
        case
            when corrections.late_event_count > 0
                then 'Late usage: ' || cast(corrections.late_event_count as {{ dbt.type_string() }})
                    || ' usage events arrived after invoice ' || corrections.source_invoice_number || ' was issued'
            else 'Restatement of invoice ' || corrections.source_invoice_number
        end as reason,
        next_invoice.own_line_count + row_number() over (
            partition by next_invoice.invoice_id
            order by
                corrections.source_issue_date, corrections.source_invoice_id, corrections.line_type_order,
                corrections.original_line_number, corrections.billing_line_id
        ) as line_number,
        -- a correction of a prepaid credit stays a credit (applied after tax, outside the tax base)
        case when corrections.original_line_type = 'credit_applied' then 'credit_applied' else 'adjustment' end
            as line_type,
        'Adjustment to invoice ' || corrections.source_invoice_number || ': ' || corrections.original_description
            as description,
        {%- for column in ['source_invoice_id', 'source_invoice_number', 'billing_line_id'] + line_party_columns + line_amount_columns %}
            corrections.{{ column }},
        {%- endfor %}
        cast(null as decimal(38, 12)) as included_quantity,
        cast(null as {{ dbt.type_string() }}) as tier_breakdown_json
    from corrections
    inner join next_invoice
        on corrections.tenant_id = next_invoice.tenant_id
            and corrections.customer_id = next_invoice.customer_id
            and coalesce(corrections.subscription_id, '') = coalesce(next_invoice.subscription_id, '')
            and corrections.currency = next_invoice.currency
            and next_invoice.rank_in_run = 1
    -- late_usage_mode = adjustment_line: corrections ride on the next invoice
    where {{ 'false' if issue_notes else 'true' }}
),

invoice_own_lines as (
    select
        new_invoice_lines.invoice_id as document_id,
        'invoice' as document_type,
        new_invoice_lines.issue_date,
        new_invoices.period_start as document_period_start,
        new_invoices.period_end as document_period_end,
        new_invoice_lines.line_number,
        new_invoice_lines.invoice_id as source_invoice_id,
        cast(null as {{ dbt.type_string() }}) as source_invoice_number,
        {%- for column in ['billing_line_id'] + line_party_columns %}
            new_invoice_lines.{{ column }},
        {%- endfor %}
        new_invoice_lines.line_type,
        new_invoice_lines.description,
        {%- for column in line_amount_columns %}
            new_invoice_lines.{{ column }},
        {%- endfor %}
        cast(null as {{ dbt.type_string() }}) as reason,
        new_invoice_lines.included_quantity,
        new_invoice_lines.tier_breakdown_json
    from new_invoice_lines
    inner join new_invoices on new_invoice_lines.invoice_id = new_invoices.invoice_id
),

adjustments_dated as (
    select
        adjustment_lines.document_id,
        adjustment_lines.document_type,
        new_invoices.issue_date,
        new_invoices.period_start as document_period_start,
        new_invoices.period_end as document_period_end,
        {%- for column in new_line_columns %}
            adjustment_lines.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from adjustment_lines
    inner join new_invoices on adjustment_lines.document_id = new_invoices.invoice_id
),

all_new_lines as (
    select * from invoice_own_lines
    union all
    select * from adjustments_dated
    union all
    select * from note_lines
),

new_documents as (
    select
        document_id,
        document_type,
        max(issue_date) as issue_date,
        max(tenant_id) as tenant_id,
        max(customer_id) as customer_id,
        max(subscription_id) as subscription_id,
        max(source_invoice_number) as source_invoice_number,
        sum(gross_amount) as gross_total
    from all_new_lines
    group by document_id, document_type
),

-- one gapless series per issuer for invoices, one for credit/debit notes
series_max as (
    select
        previously_issued.issuer_id,
        case when previously_issued.document_type = 'invoice' then 'invoice' else 'note' end as series,
        max(previously_issued.document_sequence) as max_sequence
    from previously_issued
    group by
        previously_issued.issuer_id,
        case when previously_issued.document_type = 'invoice' then 'invoice' else 'note' end
),

numbered as (
    select
        new_documents.*,
        coalesce(series_max.max_sequence, 0) + row_number() over (
            partition by case when new_documents.document_type = 'invoice' then 'invoice' else 'note' end
            order by
                new_documents.issue_date, new_documents.tenant_id, new_documents.customer_id, new_documents.subscription_id,
                new_documents.source_invoice_number, new_documents.document_id
        ) as document_sequence
    from new_documents
    cross join issuer
    left join series_max
        on
            issuer.issuer_id = series_max.issuer_id
            and series_max.series = case when new_documents.document_type = 'invoice' then 'invoice' else 'note' end
),

documents as (
    select
        numbered.*,
        replace(
            case when numbered.document_type = 'invoice' then issuer.invoice_prefix else issuer.credit_note_prefix end,
            '{year}', cast(extract(year from numbered.issue_date) as {{ dbt.type_string() }})
        ) || lpad(cast(numbered.document_sequence as {{ dbt.type_string() }}), issuer.number_width, '0') as document_number,
        case
            when numbered.document_type = 'credit_note' then numbered.issue_date
            else cast({{ add_interval('day', 'issuer.payment_terms_days', 'numbered.issue_date') }} as date)
        end as due_date,
        issuer.issuer_id,
        issuer.legal_name as issuer_legal_name,
        issuer.address_json as issuer_address_json,
        issuer.tax_id as issuer_tax_id,
        issuer.country as issuer_country,
        issuer.email as issuer_email,
        issuer.payment_terms_days
    from numbered
    cross join issuer
),

final as (
    select
        new_line.document_id || '-' || lpad(cast(new_line.line_number as {{ dbt.type_string() }}), 4, '0') as issued_line_id,
        new_line.document_id,
        new_line.document_type,
        documents.document_number,
        cast(documents.document_sequence as bigint) as document_sequence,
        new_line.source_invoice_id,
        coalesce(new_line.source_invoice_number, case when new_line.document_type = 'invoice' then documents.document_number end)
            as source_invoice_number,
        new_line.billing_line_id,
        cast(new_line.line_number as integer) as line_number,
        new_line.issue_date,
        documents.due_date,
        new_line.document_period_start,
        new_line.document_period_end,
        new_line.tenant_id,
        new_line.customer_id,
        new_line.subscription_id,
        new_line.currency,
        {#- what the line bills, in ledger order; its quantities, prices, rates and amounts as DECIMAL(38, 12) -#}
        {%- for column in [
            'charge_id', 'line_type', 'description', 'period_start', 'period_end', 'quantity', 'included_quantity',
            'unit_price', 'amount', 'tax_rate_id', 'tax_name', 'tax_rate', 'is_tax_inclusive', 'tax_note',
            'is_reverse_charge', 'tax_amount', 'net_amount', 'gross_amount',
        ] %}
            {%- if column in ledger_decimal_columns %}
        cast(new_line.{{ column }} as decimal(38, 12)) as {{ column }},
            {%- else %}
        new_line.{{ column }},
            {%- endif %}
        {%- endfor %}
        cast(new_line.minor_unit as integer) as minor_unit,
        new_line.reason,
        customers.name as buyer_name,
        customers.email as buyer_email,
        customers.address_json as buyer_address_json,
        customers.tax_id as buyer_tax_id,
        customers.country as buyer_country,
        documents.issuer_id,
        documents.issuer_legal_name,
        documents.issuer_address_json,
        documents.issuer_tax_id,
        documents.issuer_country,
        documents.issuer_email,
        documents.payment_terms_days,
        cast('{{ as_of }}' as date) as as_of_date,
        {#- the run's as-of date, never the build clock: two runs or two engines give the same rows -#}
        cast(cast('{{ as_of }}' as date) as timestamp) as issued_at,
        -- the tier split of a tiered usage line as rated at issue (JSON, billing line's tier_breakdown_json)
        new_line.tier_breakdown_json
    from all_new_lines as new_line
    inner join documents on new_line.document_id = documents.document_id
    left join customers
        on new_line.tenant_id = customers.tenant_id and new_line.customer_id = customers.customer_id
)

select * from final
