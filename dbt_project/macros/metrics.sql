{#
  Every metric of contract §2, once, as [numerator, denominator] over commune rows (one row per
  commune in scope). A null denominator means the metric is the numerator itself (counts, sums).
  Commune rows carry: co_bao_cao, so_tieu_chi_dat (null when nothing reported), so_tieu_chi_bo,
  danh_hieu, bac_danh_hieu, so_san_pham_ocop_{3,4,5}_sao, so_thon_kieu_mau and the flow columns.
  Band names are the contract's; their edges come from var('band_edges') (default 15, 10, 5).
  Conditions go through count_true: DuckDB's count_if over only NULLs is NULL, but a unit whose
  communes have not reported yet holds zero titled communes, not an unknown number.
#}
{% macro count_true(condition) -%}
    count_if(coalesce({{ condition }}, false))
{%- endmacro %}

{% macro ntm_metrics() %}
  {%- set e = var('band_edges') -%}
  {%- set met = 'so_tieu_chi_dat' -%}
  {%- set not_all = '(so_tieu_chi_dat < so_tieu_chi_bo)' -%}
  {{ return({
    'so_xa': ['count(*)', none],
    'so_xa_co_bao_cao': [count_true('co_bao_cao'), none],
    'so_xa_dat_chuan': [count_true('bac_danh_hieu >= 1'), none],
    'ty_le_xa_dat_chuan': ['100 * ' ~ count_true('bac_danh_hieu >= 1'), 'count(*)'],
    'so_xa_nang_cao': [count_true('bac_danh_hieu >= 2'), none],
    'so_xa_kieu_mau': [count_true('bac_danh_hieu >= 3'), none],
    'so_xa_hien_dai': [count_true("danh_hieu = 'NTM hiện đại'"), none],
    'so_xa_dat_19_tc': [count_true(met ~ ' = so_tieu_chi_bo'), none],
    'so_xa_15_18_tc': [count_true(met ~ ' >= ' ~ e[0] ~ ' and ' ~ not_all), none],
    'so_xa_10_14_tc': [count_true(met ~ ' >= ' ~ e[1] ~ ' and ' ~ met ~ ' < ' ~ e[0] ~ ' and ' ~ not_all), none],
    'so_xa_5_9_tc': [count_true(met ~ ' >= ' ~ e[2] ~ ' and ' ~ met ~ ' < ' ~ e[1] ~ ' and ' ~ not_all), none],
    'so_xa_duoi_5_tc': [count_true(met ~ ' < ' ~ e[2] ~ ' and ' ~ not_all), none],
    'so_xa_duoi_10_tc': [count_true(met ~ ' < ' ~ e[1] ~ ' and ' ~ not_all), none],
    'binh_quan_tieu_chi': ['sum(' ~ met ~ ')', 'count(' ~ met ~ ')'],
    'so_san_pham_ocop': ['coalesce(sum(so_san_pham_ocop_3_sao + so_san_pham_ocop_4_sao + so_san_pham_ocop_5_sao), 0)', none],
    'so_san_pham_ocop_3_sao': ['coalesce(sum(so_san_pham_ocop_3_sao), 0)', none],
    'so_san_pham_ocop_4_sao': ['coalesce(sum(so_san_pham_ocop_4_sao), 0)', none],
    'so_san_pham_ocop_5_sao': ['coalesce(sum(so_san_pham_ocop_5_sao), 0)', none],
    'so_thon_kieu_mau': ['coalesce(sum(so_thon_kieu_mau), 0)', none],
    'so_mo_hinh_sxkd_moi': ['coalesce(sum(so_mo_hinh_sxkd_moi), 0)', none],
    'so_htx_moi': ['coalesce(sum(so_htx_moi), 0)', none],
    'so_tht_moi': ['coalesce(sum(so_tht_moi), 0)', none],
    'so_dn_moi': ['coalesce(sum(so_dn_moi), 0)', none],
    'so_xa_khong_co_mo_hinh_moi': ['count_if(coalesce(so_mo_hinh_sxkd_moi, 0) = 0)', none],
    'von_ke_hoach_trieu_dong': ['coalesce(sum(von_ke_hoach_trieu_dong), 0)', none],
    'von_giai_ngan_trieu_dong': ['coalesce(sum(von_giai_ngan_trieu_dong), 0)', none],
    'ty_le_giai_ngan': ['100 * sum(von_giai_ngan_trieu_dong)', 'sum(von_ke_hoach_trieu_dong)'],
    'xi_mang_tan': ['coalesce(sum(xi_mang_tan), 0)', none],
  }) }}
{% endmacro %}

{#
  Metrics that are sums of flows over a range: claim_reconciliation computes them over every unit whose
  commune-months lie within the claimed unit in the range (through int_unit_successor across the
  reform), the others over the units in scope at den_thang.
#}
{% macro range_flow_metrics() %}
  {{ return(['so_mo_hinh_sxkd_moi', 'so_htx_moi', 'so_tht_moi', 'so_dn_moi', 'von_ke_hoach_trieu_dong',
             'von_giai_ngan_trieu_dong', 'ty_le_giai_ngan', 'xi_mang_tan']) }}
{% endmacro %}

{# The metric values for display: counts as BIGINT, sums as DECIMAL, ratios exact as DOUBLE. #}
{% macro metric_columns() %}
  {%- for name, parts in ntm_metrics().items() %}
    {%- if parts[1] is none %}
    {%- if name.startswith('so_') %}
    cast({{ parts[0] }} as bigint) as {{ name }}
    {%- else %}
    cast({{ parts[0] }} as decimal(38, 4)) as {{ name }}
    {%- endif %}
    {%- else %}
    cast({{ parts[0] }} as double) / nullif(cast({{ parts[1] }} as double), 0) as {{ name }}
    {%- endif %}{{ ',' if not loop.last }}
  {%- endfor %}
{% endmacro %}

{# Numerator and denominator of every metric, for exact comparison with claims. #}
{% macro metric_fractions(only=none) %}
  {%- set metrics = ntm_metrics() -%}
  {%- for name in (only if only is not none else metrics.keys() | list) %}
    {%- set parts = metrics[name] %}
    cast({{ parts[0] }} as decimal(38, 4)) as {{ name }}__tu,
    cast({{ parts[1] if parts[1] is not none else 1 }} as decimal(38, 4)) as {{ name }}__mau{{ ',' if not loop.last }}
  {%- endfor %}
{% endmacro %}

{#
  Whether numerator / denominator, rounded half up to `decimals` places, equals `claimed` (contract §2:
  72 matches 72.03, 72.0 does not match 72.4). Integer arithmetic, so no binary rounding error.
#}
{% macro matches_when_rounded(numerator, denominator, claimed, decimals) %}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 or {{ numerator }} is null then false
        else (
            (2 * cast({{ numerator }} * 10000 as hugeint) * cast(pow(10, {{ decimals }}) as hugeint)
                + cast({{ denominator }} * 10000 as hugeint))
            // (2 * cast({{ denominator }} * 10000 as hugeint))
        ) = cast({{ claimed }} * cast(pow(10, {{ decimals }}) as hugeint) as hugeint)
    end
{% endmacro %}

{#
  Reporting era of a month: before the reform date of seed admin_eras, the legacy three-level list.
  The date is read from the seed (one home for the rule); an uncorrelated scalar subquery, which
  DuckDB evaluates once.
#}
{% macro reform_date() -%}
    (select min(cast(tu_ngay as date)) from {{ ref('admin_eras') }} where era = 'reform2025')
{%- endmacro %}

{% macro era_of(month_date) %}
    case when {{ month_date }} < {{ reform_date() }} then 'legacy' else 'reform2025' end
{% endmacro %}

{#
  Local (Asia/Ho_Chi_Minh) wall-clock time of an instant, whether the column is TIMESTAMPTZ or a
  naive TIMESTAMP (read in the session's time zone, the machine's, as the ingest wrote it).
#}
{% macro local_time(ts) -%}
    timezone('Asia/Ho_Chi_Minh', cast({{ ts }} as timestamptz))
{%- endmacro %}

{# Granularity of a reporting period code (contract §1): thang, quy, nua_nam or nam. #}
{% macro period_kind(ky) %}
    case
        when {{ ky }} like '%-Q%' then 'quy'
        when {{ ky }} like '%-H%' then 'nua_nam'
        when length({{ ky }}) = 4 then 'nam'
        else 'thang'
    end
{% endmacro %}

{# Months a reporting period spans: 1, 3, 6 or 12. #}
{% macro period_months(ky) %}
    case {{ period_kind(ky) }} when 'quy' then 3 when 'nua_nam' then 6 when 'nam' then 12 else 1 end
{% endmacro %}

{# An OCOP listing whose certificate holds on `day`: decided by then, and fewer than 36 months ago. #}
{% macro ocop_valid_on(listing, day) %}
    {{ listing }}.ngay_quyet_dinh <= {{ day }} and {{ listing }}.het_hieu_luc > {{ day }}
{% endmacro %}
