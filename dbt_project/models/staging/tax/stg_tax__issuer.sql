{{ stage_catalog_table(source('raw', 'catalog_issuer'), [
    'issuer_id', 'legal_name', 'address_json', 'country', 'tax_id', 'email', 'invoice_prefix',
    'credit_note_prefix', 'number_width:integer', 'payment_terms_days:integer',
]) }}
