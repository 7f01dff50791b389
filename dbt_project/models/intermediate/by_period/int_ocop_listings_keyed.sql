-- OCOP listings of current submissions with a stable product key and producer key. A product is
-- identified within its commune (era, ma_xa): by ma_san_pham when the commune gave one (two
-- communes that both number their products SP01 hold two products), else by the folded product
-- name + producer, so the same product listed month after month (with spelling or Unicode
-- variants) is one product. Across the reform a commune is another unit, so is its product.
-- Incremental from NTM_FROM_MONTH (macros/incremental.sql).
with listings as (
    select
        l.*,
        s.ngay_lap,
        s.arrived_at,
        {{ fold_text('l.ten_san_pham') }} as ten_san_pham_chuan,
        {{ fold_text('l.chu_the') }} as chu_the_chuan
    from {{ ref('int_ocop_listings_current') }} as l
    inner join {{ ref('int_submission_versions') }} as s using (submission_id)
    where {{ from_month('l.thang_ky') }}
)

select
    *,
    era || ':' || ma_xa || ':' || coalesce(
        nullif(trim(ma_san_pham), ''),
        'K-' || {{ stable_key(['ten_san_pham_chuan', 'chu_the_chuan']) }}
    ) as khoa_san_pham,
    {{ stable_key(['era', 'chu_the_chuan', 'ma_xa']) }} as khoa_chu_the
from listings
