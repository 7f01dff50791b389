{#
  The typed columns of staging, once: raw table → [(column, raw column, expression, type)]. Staging
  reads them with try_cast (one file's bad cell must not fail the build, issue 10) and
  audit_staging_casts lists every row whose cast failed, naming file, sheet, row and column.
#}
{% macro staging_casts() %}
  {{ return({
    'submissions': [
        ('thang_ky', 'thang', "thang || '-01'", 'date'),
        ('ngay_lap', 'ngay_lap', 'ngay_lap', 'date'),
        ('phien_ban_mau', 'phien_ban_mau', 'phien_ban_mau', 'integer')],
    'tieu_chi': [
        ('tieu_chi', 'tieu_chi', 'tieu_chi', 'integer'),
        ('dat', 'trang_thai', 'trang_thai', 'boolean')],
    'chi_tieu': [('gia_tri', 'gia_tri', 'gia_tri', 'double')],
    'ocop': [
        ('diem', 'diem', 'diem', 'double'),
        ('so_sao', 'so_sao', 'so_sao', 'integer'),
        ('ngay_quyet_dinh', 'ngay_quyet_dinh', 'ngay_quyet_dinh', 'date')],
    'claims': [
        ('tu_thang_ky', 'tu_thang', "tu_thang || '-01'", 'date'),
        ('den_thang_ky', 'den_thang', "den_thang || '-01'", 'date'),
        ('gia_tri', 'gia_tri', 'gia_tri', 'decimal(38, 10)')],
  }) }}
{% endmacro %}

{# The TongHop keys and the type each is read as (int_commune_reports pivots them). #}
{% macro declared_total_kinds() %}
  {{ return([
    ('so_tieu_chi_dat', 'integer'), ('danh_hieu', 'varchar'), ('so_quyet_dinh_cong_nhan', 'varchar'),
    ('ngay_cong_nhan', 'date'), ('so_san_pham_ocop', 'integer'), ('so_san_pham_3_sao', 'integer'),
    ('so_san_pham_4_sao', 'integer'), ('so_san_pham_5_sao', 'integer'), ('so_thon_kieu_mau', 'integer'),
    ('so_mo_hinh_sxkd_moi', 'integer'), ('so_htx_moi', 'integer'), ('so_tht_moi', 'integer'),
    ('so_dn_moi', 'integer'), ('von_ke_hoach_trieu_dong', 'decimal(38, 4)'),
    ('von_giai_ngan_trieu_dong', 'decimal(38, 4)'), ('xi_mang_tan', 'decimal(38, 4)')]) }}
{% endmacro %}

{# The typed columns of one raw table, as staging selects them. #}
{% macro cast_columns(table) -%}
  {%- for name, raw, expr, kind in staging_casts()[table] %}
        try_cast({{ expr }} as {{ kind }}) as {{ name }}{{ ',' if not loop.last }}
  {%- endfor %}
{%- endmacro %}
