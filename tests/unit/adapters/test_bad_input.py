"""Bad input: each case gives a clear issue, good items next to it still pass, nothing is lost."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from adapters.common.pipeline import IngestReport, ingest
from adapters.common.safety import ZipLimits
from adapters.coupang_wings.io import CoupangAdapter
from adapters.coupang_wings.template import build_workbook
from adapters.registry import adapter_for
from tests.unit.adapters.adapter_helpers import FIXTURES, ctx, workbook_dump

WINGS = adapter_for("coupang_wings")
IMG = "https://img.example-seller.co.kr/a.jpg"


def row(**cells: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"카테고리": "[69181] 패션의류잡화>여성패션>여성의류>티셔츠>반팔티셔츠",
                            "등록상품명": "기본 반팔 티셔츠", "브랜드": "모먼트", "제조사": "모먼트",
                            "판매가격": 19900, "할인율기준가": 25000, "재고수량": 10, "출고리드타임": 2,
                            "대표(옵션)이미지": IMG, "상세 설명": IMG, "업체상품코드": "SKU-1"}
    base.update(cells)
    return base


def wing(raw: bytes, name: str = "upload.xlsx", adapter: Any = WINGS) -> IngestReport:
    return ingest(adapter, raw, name, ctx())


def codes(report: IngestReport) -> set[str]:
    return {i.code for i in report.issues} | {i.code for o in report.outcomes for i in o.issues}


def test_empty_file_xlsx_and_json() -> None:
    assert codes(wing(b"")) == {"empty_file"}
    assert codes(ingest(adapter_for("tmon"), b"  \n", "deal.json", ctx())) == {"empty_file"}
    empty = Workbook()
    out = io.BytesIO()
    empty.save(out)
    report = wing(out.getvalue())
    assert codes(report) == {"empty_file"}
    assert report.failed and report.answer_suffix == ".result.xlsx"


def test_missing_header_row() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["상품 목록"])
    ws.append(["티셔츠", 19900, IMG])
    out = io.BytesIO()
    wb.save(out)
    report = wing(out.getvalue())
    assert codes(report) == {"missing_header_row"}
    # the answer is the original workbook plus a result sheet: nothing of the seller's is lost
    dump = workbook_dump(report.answer)
    assert dump["Sheet"]["rows"][:2] == [["상품 목록", None, None], ["티셔츠", 19900, IMG]]
    assert dump["처리결과"]["rows"][1][5] == "missing_header_row"


def test_header_row_moved_is_found_by_text() -> None:
    raw = build_workbook([row()])
    wb = load_workbook(io.BytesIO(raw))
    wb["기본"].insert_rows(1)  # everything one row down: header on row 3, data on row 6
    out = io.BytesIO()
    wb.save(out)
    report = wing(out.getvalue())
    assert len(report.accepted) == 1
    assert "header_row_moved" in codes(report)
    assert report.accepted[0].event is not None
    assert report.accepted[0].event.native["rows"][0]["row"] == 6


def test_missing_required_column() -> None:
    columns = tuple((g, h) for g, h in __import__(
        "adapters.coupang_wings.native", fromlist=["x"]).COLUMNS_V46 if h != "판매가격")
    report = wing(build_workbook([row()], columns=columns))
    assert codes(report) == {"missing_required_column"}
    assert report.issues[0].field == "판매가격"


def test_older_layout_aliases_are_read() -> None:
    columns = (("상품기본정보", "노출카테고리"), ("상품기본정보", "상품명"), ("상품기본정보", "브랜드"),
               ("상품기본정보", "제조사"), ("가격", "판매가격"), ("가격", "할인율기준가"),
               ("가격", "판매가능수량"), ("가격", "기준출고일"), ("이미지", "대표이미지(정사각형)"),
               ("이미지", "기타이미지"), ("상세", "상세 설명"), ("기타", "알 수 없는 열"))
    rows = [{"노출카테고리": "[69195] 원피스", "상품명": "롱 원피스", "브랜드": "b", "제조사": "m",
             "판매가격": 30000, "할인율기준가": 30000, "판매가능수량": 5, "기준출고일": 3,
             "대표이미지(정사각형)": IMG, "상세 설명": "x", "알 수 없는 열": "그대로"}]
    report = wing(build_workbook(rows, columns=columns))
    assert len(report.accepted) == 1
    event = report.accepted[0].event
    assert event is not None
    assert event.native["template"] == "legacy-xlsxwriter"
    assert event.native["rows"][0]["cells"]["알 수 없는 열"] == "그대로"
    assert event.declared_category.taxonomy_id == "T301"


def test_wrong_encoding_json() -> None:
    deal = (FIXTURES / "tmon" / "deal.json").read_text(encoding="utf-8")
    utf16 = deal.encode("utf-16-le")  # no BOM: NUL bytes everywhere
    report = ingest(adapter_for("tmon"), utf16, "deal.json", ctx())
    assert codes(report) == {"bad_encoding"}
    latin = b'{"vendorDealNo": "caf\xe9 \xff\xfe"}'
    assert codes(ingest(adapter_for("tmon"), latin, "deal.json", ctx())) == {"bad_encoding"}


def test_cp949_json_is_read_and_answered_in_cp949() -> None:
    raw = (FIXTURES / "tmon" / "deal_cp949.json").read_bytes()
    report = ingest(adapter_for("tmon"), raw, "deal_cp949.json", ctx())
    assert len(report.accepted) == 1 and "legacy_encoding" in codes(report)
    json.loads(report.answer.decode("cp949"))
    with pytest.raises(UnicodeDecodeError):
        report.answer.decode("utf-8")


def test_formula_cells_are_never_evaluated_and_neutralised_on_output() -> None:
    hyperlink = '=HYPERLINK("http://evil.example/x","클릭")'
    dde = "=cmd|' /C calc'!A0"
    raw = build_workbook([row(등록상품명=hyperlink, 검색어=dde, 업체상품코드="SKU-F")])
    report = wing(raw)
    assert len(report.accepted) == 1
    event = report.accepted[0].event
    assert event is not None
    assert event.title == hyperlink  # the text as typed, not a computed value
    assert event.native["rows"][0]["cells"]["검색어"] == dde
    assert sum(i.code == "formula_neutralised" for i in report.accepted[0].issues) == 2
    wb = load_workbook(io.BytesIO(report.answer))
    ws = wb["기본"]
    for cell in (ws["B5"], ws["I5"]):
        assert cell.data_type == "s" and cell.quotePrefix  # text, shown as typed, never run
    assert ws["B5"].value == hyperlink and ws["I5"].value == dde


def test_formula_in_json_is_kept_verbatim() -> None:
    body = json.loads((FIXTURES / "tmon" / "deal.json").read_text(encoding="utf-8"))
    body["titleDecoration"] = "=cmd|' /C calc'!A0"
    report = ingest(adapter_for("tmon"), json.dumps(body).encode(), "d.json", ctx("P-1"))
    assert report.accepted[0].event is not None
    assert report.accepted[0].event.native["body"]["titleDecoration"] == "=cmd|' /C calc'!A0"


def test_merged_cells_apply_anchor_value_and_are_reported() -> None:
    rows = [row(업체상품코드=f"SKU-{s}", **{"구매옵션/옵션유형1": "사이즈", "구매옵션/옵션값1": s})
            for s in ("S", "M", "L")]
    for r in rows[1:]:
        r["등록상품명"] = None
    wb = load_workbook(io.BytesIO(build_workbook(rows)))
    wb["기본"].merge_cells("B5:B7")
    out = io.BytesIO()
    wb.save(out)
    report = wing(out.getvalue())
    assert len(report.accepted) == 1  # one product with three option rows
    event = report.accepted[0].event
    assert event is not None
    assert [r["cells"]["등록상품명"] for r in event.native["rows"]] == ["기본 반팔 티셔츠"] * 3
    assert event.native["merged"] == ["B5:B7"]
    assert "merged_cells" in codes(report)
    assert "B5:B7" in workbook_dump(report.answer)["기본"]["merged"]


def test_one_bad_row_never_rejects_the_good_rows() -> None:
    rows = [row(업체상품코드="OK-1"), row(업체상품코드="BAD-1", 판매가격="열만원", 등록상품명="다른 상품"),
            row(업체상품코드="OK-2", 등록상품명="세 번째 상품")]
    report = wing(build_workbook(rows))
    assert [o.accepted for o in report.outcomes] == [True, False, True]
    bad = report.rejected[0]
    assert bad.issues[0].row == 6 and bad.issues[0].field == "판매가격"
    ws = load_workbook(io.BytesIO(report.answer))["기본"]
    results = [ws.cell(row=r, column=118).value for r in (5, 6, 7)]
    assert results == ["접수", "반려", "접수"]
    assert "판매가격" in ws.cell(row=6, column=119).value


def test_duplicated_product_ids() -> None:
    report = wing(build_workbook([row(업체상품코드="DUP"), row(업체상품코드="DUP",
                                                                   등록상품명="다른 이름")]))
    assert [o.accepted for o in report.outcomes] == [True, False]
    assert "duplicate_id" in {i.code for i in report.rejected[0].issues}
    batch = json.loads((FIXTURES / "wemakeprice" / "set_product.json").read_text("utf-8"))
    report = ingest(adapter_for("wemakeprice"), json.dumps([batch, batch]).encode(), "b.json",
                    ctx("W-1"))
    assert [o.accepted for o in report.outcomes] == [True, False]
    assert report.rejected[0].issues[-1].code == "duplicate_product_id"


def test_invalid_json_and_partial_batches() -> None:
    for portal in ("coupang_wings", "tmon", "wemakeprice"):
        report = ingest(adapter_for(portal), b'{"a": 1,,}', "x.json", ctx())
        assert codes(report) == {"invalid_json"}
        answer = json.loads(report.answer)
        assert answer, portal
    report = ingest(adapter_for("tmon"), b'[1, {"vendorDealNo": "X"}]', "x.json", ctx())
    assert [o.accepted for o in report.outcomes] == [False, False]
    assert len(json.loads(report.answer)) == 2
    report = ingest(adapter_for("tmon"), b'{"a": 1, "a": 2}', "x.json", ctx())
    assert "duplicate_json_key" in codes(report)
    assert codes(ingest(adapter_for("tmon"), b'{"a": NaN}', "x.json", ctx())) == {"invalid_json"}


@pytest.mark.parametrize("uri", ["htp://x.example/a.jpg", "javascript:alert(1)", "ftp://x/a.jpg",
                                 "https://user:pw@x.example/a.jpg", "https:///a.jpg",
                                 "file://../etc/passwd", "https://x.example/a b.jpg",
                                 "data:image/png;base64,AAAA"])
def test_invalid_image_urls(uri: str) -> None:
    report = wing(build_workbook([row(**{"대표(옵션)이미지": uri})]))
    assert report.rejected and "invalid_image_uri" in codes(report)
    body = json.loads((FIXTURES / "tmon" / "deal.json").read_text("utf-8"))
    body["mainImages"] = [uri]
    report = ingest(adapter_for("tmon"), json.dumps(body).encode(), "d.json", ctx("P"))
    assert "invalid_image_uri" in codes(report)


def test_xls_pretending_to_be_xlsx() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    report = wing(ole, "upload.xlsx")
    assert codes(report) == {"xls_not_supported"}
    assert "처리결과" in workbook_dump(report.answer)
    assert codes(wing(b"<html><table>", "upload.xlsx")) == {"not_xlsx"}
    assert codes(wing(b"PK\x03\x04garbage", "upload.xlsx")) == {"not_xlsx"}


def test_zip_bomb_is_refused_before_parsing() -> None:
    buffer = io.BytesIO(build_workbook([row()]))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/bomb.bin", b"\x00" * (20 * 1024 * 1024))
    raw = buffer.getvalue()
    assert len(raw) < 200_000
    started = time.perf_counter()
    report = wing(raw)
    assert codes(report) == {"zip_bomb"} and "inflates" in report.issues[0].message
    assert time.perf_counter() - started < 2
    small = CoupangAdapter(ZipLimits(max_total_uncompressed=1_000_000, max_ratio=10_000))
    assert codes(wing(raw, adapter=small)) == {"zip_bomb"}


def test_ten_thousand_row_workbook() -> None:
    rows = [row(업체상품코드=f"SKU-{i:05d}", 등록상품명=f"상품 {i // 4}",
                **{"구매옵션/옵션유형1": "사이즈", "구매옵션/옵션값1": "SMLX"[i % 4]})
            for i in range(10_000)]
    raw = build_workbook(rows, write_only=True)
    started = time.perf_counter()
    report = wing(raw)
    elapsed = time.perf_counter() - started
    assert len(report.accepted) == 2_500 and not report.rejected
    assert sum(len(o.item.native["rows"]) for o in report.accepted) == 10_000
    assert elapsed < 120, elapsed


def test_missing_seller_id_for_workbook() -> None:
    report = ingest(WINGS, build_workbook([row()]), "u.xlsx", ctx(None))
    assert codes(report) == {"missing_seller_id"}


def test_warnings_of_an_accepted_product_are_answered_with_the_acceptance() -> None:
    # WeMakePrice cuts product names past its limit; the product is accepted, and the seller must
    # hear about the cut in the answer (it used to be dropped once the product was accepted).
    product = json.loads((FIXTURES / "wemakeprice" / "set_product.json").read_text(encoding="utf-8"))
    product["basic"]["productName"] = "아주 긴 상품명 " * 9  # 81 characters
    report = ingest(adapter_for("wemakeprice"), json.dumps(product, ensure_ascii=False).encode(),
                    "product.json", ctx())
    assert len(report.accepted) == 1
    [outcome] = report.outcomes
    assert "too_long" in {i.code for i in outcome.issues}
    answer = json.loads(report.answer)
    assert answer["resultCode"] == 200 and "위메프에서 잘립니다" in answer["data"]["returnMsg"]
    # TMON: a missing categoryNo is ours to fill — accepted, and said so.
    deal = json.loads((FIXTURES / "tmon" / "deal.json").read_text(encoding="utf-8"))
    del deal["categoryNo"]
    report = ingest(adapter_for("tmon"), json.dumps(deal, ensure_ascii=False).encode(), "deal.json", ctx())
    assert len(report.accepted) == 1
    assert json.loads(report.answer)["deal"]["success"] is True
    assert "카테고리" in json.loads(report.answer)["deal"]["message"]
