-- Outliers and consistency over time (WHO Data Quality Review). Every series is a unit's within its
-- era (era, code): most 2025 communes reuse a legacy code of another commune, so a series never runs
-- from a legacy commune into the 2025 commune of the same code.
--   CRITERIA_DROP       a commune's criteria met fall by var('criteria_drop', 3) or more from one month
--                       to the next, within the same criteria set
--   FLOW_OUTLIER        a flow in one report lies beyond 3 SD of the mean of the commune's other reports
--                       of the same period kind, or has a modified z-score (0.6745 |x - median| / MAD)
--                       above 3.5; judged only with var('outlier_min_values', 8) reports or more; a
--                       count (so_*) must also lie 3 or more from the median; zeros are not part of
--                       the series (a value is judged against the commune's other non-zero reports)
--   YEAR_ON_YEAR_CHANGE a district's or province's flow from January to the latest reported month
--                       differs from the mean of the same months of up to 3 preceding years by more
--                       than var('yoy_max_change_pct', 33)%; judged only when that mean is at least
--                       var('yoy_min_base', 10), so that 2 against 3 cooperatives is not flagged, and
--                       only against years with reports in as many of those months
{% set flows = ['so_mo_hinh_sxkd_moi', 'so_htx_moi', 'so_tht_moi', 'so_dn_moi', 'von_ke_hoach_trieu_dong',
                'von_giai_ngan_trieu_dong', 'xi_mang_tan'] %}
{% set min_values = var('outlier_min_values', 8) %}

with commune_months as (select * from {{ ref('fct_commune_month') }}),

criteria_series as (
    select
        era, ma_xa, thang_ky, thang, bo_tieu_chi, so_tieu_chi_dat, thang_ky_so_lieu, submission_id_so_lieu,
        lag(so_tieu_chi_dat) over w as so_tieu_chi_dat_truoc,
        lag(bo_tieu_chi) over w as bo_tieu_chi_truoc,
        lag(thang) over w as thang_truoc
    from commune_months
    window w as (partition by era, ma_xa order by thang_ky)
),

criteria_drop as (
    select
        'CRITERIA_DROP' as ma_kiem_tra,
        'xa' as cap,
        ma_xa as ma_don_vi,
        thang as ky,
        cast(so_tieu_chi_dat as double) as gia_tri_bao_cao,
        cast(so_tieu_chi_dat_truoc as double) as gia_tri_tinh_toan,
        'Số tiêu chí đạt giảm từ ' || so_tieu_chi_dat_truoc || ' (' || thang_truoc || ') xuống ' || so_tieu_chi_dat
            || ' (' || thang || ') trong một tháng (criteria met dropped by ' || (so_tieu_chi_dat_truoc - so_tieu_chi_dat)
            || ' in a month)' as mo_ta,
        submission_id_so_lieu as khoa
    from criteria_series
    where thang_ky_so_lieu = thang_ky  -- the month of a new report, not a carried-forward one
      and bo_tieu_chi = bo_tieu_chi_truoc
      and so_tieu_chi_dat_truoc - so_tieu_chi_dat >= {{ var('criteria_drop', 3) }}
),

flow_values as (
    select
        r.submission_id, r.era, r.ma_xa, r.ky_bao_cao, r.file_name,
        {{ period_kind('r.ky_bao_cao') }} as loai_ky,
        v.chi_so,
        v.gia_tri
    from {{ ref('int_commune_reports') }} as r
    cross join lateral (
        values {% for flow in flows %}('{{ flow }}', cast(r.{{ flow }} as double)){{ ',' if not loop.last }}{% endfor %}
    ) as v(chi_so, gia_tri)
    -- zeros are left out: "nothing this period" is another regime than the amounts, and lumpy
    -- flows (cement delivered a few times a year) would otherwise make every delivery an outlier
    where v.gia_tri is not null and v.gia_tri <> 0
),

series_stats as (
    select
        era, ma_xa, loai_ky, chi_so,
        count(*) as n, sum(gia_tri) as tong, sum(gia_tri * gia_tri) as tong_binh_phuong,
        median(gia_tri) as trung_vi
    from flow_values
    group by all
    having count(*) >= {{ min_values }}
),

series_mad as (
    select s.era, s.ma_xa, s.loai_ky, s.chi_so, median(abs(v.gia_tri - s.trung_vi)) as mad
    from series_stats as s
    inner join flow_values as v using (era, ma_xa, loai_ky, chi_so)
    group by all
),

-- Mean and SD of the commune's other reports (leave one out), so one huge value cannot hide
-- itself by inflating the SD it is judged against.
scored as (
    select
        v.*,
        s.trung_vi,
        m.mad,
        (s.tong - v.gia_tri) / (s.n - 1) as trung_binh_khac,
        sqrt(greatest(
            (s.tong_binh_phuong - v.gia_tri * v.gia_tri - (s.tong - v.gia_tri) ^ 2 / (s.n - 1)) / (s.n - 2), 0))
            as do_lech_chuan_khac
    from flow_values as v
    inner join series_stats as s using (era, ma_xa, loai_ky, chi_so)
    inner join series_mad as m using (era, ma_xa, loai_ky, chi_so)
),

flow_outlier as (
    select
        'FLOW_OUTLIER', 'xa', ma_xa, ky_bao_cao,
        gia_tri,
        trung_vi,
        chi_so || ' = ' || cast(gia_tri as varchar) || ' bất thường so với các kỳ khác của xã (trung bình '
            || cast(round(trung_binh_khac, 2) as varchar) || ', độ lệch chuẩn ' || cast(round(do_lech_chuan_khac, 2) as varchar)
            || ', trung vị ' || cast(trung_vi as varchar) || ') (flow outlier: beyond 3 SD or modified z-score > 3.5; '
            || file_name || ')',
        submission_id || ':' || chi_so
    from scored
    where ((do_lech_chuan_khac > 0 and abs(gia_tri - trung_binh_khac) > 3 * do_lech_chuan_khac)
           or (mad > 0 and 0.6745 * abs(gia_tri - trung_vi) / mad > 3.5))
      -- counts of rare events (a first cooperative in two years) are not outliers: a count must
      -- also lie var('outlier_min_count_deviation', 3) or more from the commune's median
      and (chi_so not like 'so\_%' escape '\' or abs(gia_tri - trung_vi) >= {{ var('outlier_min_count_deviation', 3) }})
),

unit_months as (
    select
        cap, ma_don_vi, any_value(ten_don_vi) over (partition by cap, ma_don_vi, {{ era_of('thang_ky') }}) as ten_don_vi,
        {{ era_of('thang_ky') }} as era, year(thang_ky) as nam, month(thang_ky) as thang_so, so_xa_co_bao_cao,
        {%- for flow in flows %}
        sum(coalesce({{ flow }}, 0)) over ytd as {{ flow }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('mart_unit_month') }}
    where cap in ('huyen', 'tinh')
    window ytd as (partition by cap, ma_don_vi, {{ era_of('thang_ky') }}, year(thang_ky) order by thang_ky)
),

-- Each unit's year up to its latest month with any report, and whether a year had reports by then.
year_to_date as (
    select
        u.*,
        max(case when u.so_xa_co_bao_cao > 0 then u.thang_so end) over (partition by u.cap, u.ma_don_vi, u.era, u.nam)
            as thang_cuoi,
        count(case when u.so_xa_co_bao_cao > 0 then 1 end)
            over (partition by u.cap, u.ma_don_vi, u.era, u.nam order by u.thang_so) as so_thang_co_bao_cao
    from unit_months as u
),

year_on_year as (
    {%- for flow in flows %}
    select
        cur.cap, cur.ma_don_vi, cur.ten_don_vi, cur.nam, cur.thang_cuoi, '{{ flow }}' as chi_so,
        cast(any_value(cur.{{ flow }}) as double) as hien_tai,
        cast(avg(prev.{{ flow }}) as double) as binh_quan_truoc,
        min(prev.nam) as nam_dau, max(prev.nam) as nam_cuoi
    from year_to_date as cur
    inner join year_to_date as prev
        on prev.cap = cur.cap and prev.ma_don_vi = cur.ma_don_vi and prev.era = cur.era
        and prev.nam between cur.nam - 3 and cur.nam - 1 and prev.thang_so = cur.thang_so
        -- a year is compared only with years reported in as many of the same months (a history
        -- starting in July is no base for a whole year)
        and prev.so_thang_co_bao_cao = cur.so_thang_co_bao_cao
    where cur.thang_so = cur.thang_cuoi
    group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

year_on_year_change as (
    select
        'YEAR_ON_YEAR_CHANGE', cap, ma_don_vi,
        cast(nam as varchar) || '-01..' || cast(nam as varchar) || '-' || lpad(cast(thang_cuoi as varchar), 2, '0'),
        hien_tai,
        binh_quan_truoc,
        coalesce(ten_don_vi || ': ', '') || chi_so || ' từ đầu năm đến tháng ' || thang_cuoi || '/' || nam || ' là '
            || cast(round(hien_tai, 2) as varchar) || ', bình quân cùng kỳ ' || nam_dau || '-' || nam_cuoi || ' là '
            || cast(round(binh_quan_truoc, 2) as varchar) || ' (' || case when hien_tai >= binh_quan_truoc then '+' else '' end
            || cast(round(100 * (hien_tai / binh_quan_truoc - 1), 1) as varchar)
            || '%) (year-on-year change beyond ±{{ var("yoy_max_change_pct", 33) }}%)',
        chi_so
    from year_on_year
    where binh_quan_truoc >= {{ var('yoy_min_base', 10) }}
      and abs(hien_tai / binh_quan_truoc - 1) * 100 > {{ var('yoy_max_change_pct', 33) }}
)

select * from criteria_drop
union all select * from flow_outlier
union all select * from year_on_year_change
