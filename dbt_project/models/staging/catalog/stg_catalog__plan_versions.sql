with source as (
    select * from {{ source('raw', 'catalog_plan_versions') }}
),

final as (
    select
        plan_id,
        cast(plan_version as integer) as plan_version,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to
    from source
)

select * from final
