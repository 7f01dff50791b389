"""The contract's tables (§1, §2) in one place: canonical keys, Vietnamese labels, parsers.

Readers map headers to these keys; the raw tables in DuckDB have these keys as columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pipelines import rules
from pipelines.ingest import normalize as n

CRITERIA_SETS = rules.criteria_set_sizes()
TITLES = rules.title_aliases()
PRODUCER_TYPES = {"HTX": "HTX", "THT": "THT", "DN": "DN", "Hộ SX": "Hộ SX", "Hộ sản xuất": "Hộ SX"}
CLAIM_LEVELS = {"huyen": "huyen", "huyện": "huyen", "tinh": "tinh", "tỉnh": "tinh",
                "toan_quoc": "toan_quoc", "toàn quốc": "toan_quoc"}
CLAIM_METRICS = (
    "so_xa", "so_xa_co_bao_cao", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao",
    "so_xa_kieu_mau", "so_xa_dat_19_tc", "so_xa_15_18_tc", "so_xa_10_14_tc", "so_xa_5_9_tc",
    "so_xa_duoi_5_tc", "so_xa_duoi_10_tc", "binh_quan_tieu_chi", "so_san_pham_ocop",
    "so_san_pham_ocop_3_sao", "so_san_pham_ocop_4_sao", "so_san_pham_ocop_5_sao",
    "so_thon_kieu_mau", "so_mo_hinh_sxkd_moi", "so_htx_moi", "so_tht_moi", "so_dn_moi",
    "so_xa_khong_co_mo_hinh_moi", "von_giai_ngan_trieu_dong", "ty_le_giai_ngan",
    "so_xa_hien_dai",  # contract 1.1
)
# Claims whose value is a percentage, a mean or an amount: a lone `72.125` reads as 72.125. Every other
# metric is a count: whole, 0..10^9, and a lone `1.250` reads as 1250 (normalize.number).
CLAIM_DECIMAL_METRICS = frozenset({"ty_le_xa_dat_chuan", "binh_quan_tieu_chi", "ty_le_giai_ngan",
                                   "von_giai_ngan_trieu_dong"})


def _code5(value):
    return n.code(value, 5)


def _code2(value):
    return n.code(value, 2)


def _decimal(value):
    return n.number(value)[0]


def _stars(value):
    stars = n.integer(value)
    if not 1 <= int(stars) <= 5:
        raise ValueError(f"số sao {stars} ngoài 1-5 (stars must be 1 to 5)")
    return stars


def claim_value(raw, chi_so: str | None) -> tuple[str, int]:
    """A claimed value (contract §2) → (canonical text, decimals as shown). A count is whole and within
    0..10^9; a percentage, mean or amount reads a lone `72.125` as a decimal (normalize.number)."""
    if chi_so is None or chi_so in CLAIM_DECIMAL_METRICS:
        return n.number(raw, n.DECIMAL)
    text, decimals = n.number(raw, n.COUNT)
    n.check_count(text)
    return text, decimals


def _as_received(value):
    """The cell itself: claims' `gia_tri` is read by the claims reader, which knows the metric."""
    return value


def _score(value):
    score = _decimal(value)
    if not 0 <= float(score) <= 100:
        raise ValueError(f"điểm {score} ngoài 0-100 (score must be 0 to 100)")
    return score


def _template_version(value):
    version = n.integer(value)
    if version != "1":
        raise ValueError(f"phiên bản mẫu {version} không được hỗ trợ (only template version 1)")
    return version


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    parse: Callable
    required: bool = False
    numeric: bool = False  # read as the workbook cell shows it (its number format: decimals, percent)


@dataclass(frozen=True)
class Table:
    """A sheet of the workbook and a file of the CSV bundle.

    `key_value` tables are two columns (`truong`, `gia_tri`) in the workbook and one row per
    submission in the CSV bundle. Every CSV file also carries `ma_xa` and `ky_bao_cao`.
    """

    name: str
    sheet: str
    fields: tuple[Field, ...]
    required: bool
    key_value: bool = False

    @property
    def csv_name(self) -> str:
        return f"{self.name}.csv"

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


SUBMISSION_KEYS = (
    Field("ma_xa", "Mã xã", _code5, True),
    Field("ky_bao_cao", "Kỳ báo cáo", n.period, True),
)

THONG_TIN = Table("thong_tin", "ThongTin", (
    *SUBMISSION_KEYS,
    Field("ten_xa", "Tên xã", n.text),
    Field("ma_tinh", "Mã tỉnh", _code2),
    Field("bo_tieu_chi", "Bộ tiêu chí", n.choice({k: k for k in CRITERIA_SETS}), True),
    Field("ngay_lap", "Ngày lập", n.date, True),
    Field("nguoi_lap", "Người lập", n.text),
    Field("phien_ban_mau", "Phiên bản mẫu", _template_version, True),
), required=True, key_value=True)

TIEU_CHI = Table("tieu_chi", "TieuChi", (
    Field("tieu_chi", "Tiêu chí", n.integer, True, numeric=True),
    Field("trang_thai", "Trạng thái", n.status, True),
    Field("ghi_chu", "Ghi chú", n.text),
), required=True)

CHI_TIEU = Table("chi_tieu", "ChiTieu", (
    Field("ma_chi_tieu", "Mã chỉ tiêu", n.unit_code, True),  # "１０.１" is 10.1
    Field("gia_tri", "Giá trị", _decimal, True, numeric=True),
    Field("don_vi", "Đơn vị", n.text),
), required=False)

OCOP = Table("ocop", "OCOP", (
    Field("ma_san_pham", "Mã sản phẩm", n.text),
    Field("ten_san_pham", "Tên sản phẩm", n.text, True),
    Field("nhom_san_pham", "Nhóm sản phẩm", n.text),
    Field("chu_the", "Chủ thể", n.text),
    Field("loai_chu_the", "Loại chủ thể", n.choice(PRODUCER_TYPES)),
    Field("diem", "Điểm", _score, numeric=True),
    Field("so_sao", "Số sao", _stars, True, numeric=True),
    Field("so_quyet_dinh", "Số quyết định", n.text),
    Field("ngay_quyet_dinh", "Ngày quyết định", n.date, True),
    Field("cap_danh_gia", "Cấp đánh giá", n.text),
), required=True)

TONG_HOP = Table("tong_hop", "TongHop", (
    Field("so_tieu_chi_dat", "Số tiêu chí đạt", n.integer, numeric=True),
    Field("danh_hieu", "Danh hiệu", n.choice(TITLES)),
    Field("so_quyet_dinh_cong_nhan", "Số quyết định công nhận", n.text),
    Field("ngay_cong_nhan", "Ngày công nhận", n.date),
    Field("so_san_pham_ocop", "Số sản phẩm OCOP", n.integer, numeric=True),
    Field("so_san_pham_3_sao", "Số sản phẩm 3 sao", n.integer, numeric=True),
    Field("so_san_pham_4_sao", "Số sản phẩm 4 sao", n.integer, numeric=True),
    Field("so_san_pham_5_sao", "Số sản phẩm 5 sao", n.integer, numeric=True),
    Field("so_thon_kieu_mau", "Số thôn kiểu mẫu", n.integer, numeric=True),
    Field("so_mo_hinh_sxkd_moi", "Số mô hình SXKD mới", n.integer, numeric=True),
    Field("so_htx_moi", "Số HTX mới", n.integer, numeric=True),
    Field("so_tht_moi", "Số THT mới", n.integer, numeric=True),
    Field("so_dn_moi", "Số DN mới", n.integer, numeric=True),
    Field("von_ke_hoach_trieu_dong", "Vốn kế hoạch (triệu đồng)", _decimal, numeric=True),
    Field("von_giai_ngan_trieu_dong", "Vốn giải ngân (triệu đồng)", _decimal, numeric=True),
    Field("xi_mang_tan", "Xi măng (tấn)", _decimal, numeric=True),
), required=True, key_value=True)

SUBMISSION_TABLES = (THONG_TIN, TIEU_CHI, CHI_TIEU, OCOP, TONG_HOP)

CLAIMS = Table("claims", "ChiSo", (
    Field("cap", "Cấp", n.choice(CLAIM_LEVELS), True),
    Field("ma_don_vi", "Mã đơn vị", n.unit_code),
    Field("tu_thang", "Từ tháng", n.month, True),
    Field("den_thang", "Đến tháng", n.month, True),
    Field("chi_so", "Chỉ số", n.choice({m: m for m in CLAIM_METRICS}), True),
    Field("gia_tri", "Giá trị", _as_received, True, numeric=True),  # parsed by the claims reader
    Field("nguon", "Nguồn", n.text),
), required=True)

KEY_VALUE_HEADER = (Field("truong", "Trường", n.text, True), Field("gia_tri", "Giá trị", n.text))
