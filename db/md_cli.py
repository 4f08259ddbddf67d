"""``hanger md …``: the MD's tools — see the queue, decide one item, or work through an Excel sheet.

- ``hanger md queue --md 사번`` — pending approval requests, oldest first (``--json`` for tools).
- ``hanger md decide SUBMISSION_ID --md 사번 approve|override|reject|request-change
  [--category T203] [--attr material=면 100%] [--reason …]`` — publishes one ``ApprovalDecided``.
- ``hanger md export --md 사번 queue.xlsx`` — the queue as a workbook with drop-downs to fill in.
- ``hanger md import decisions.xlsx --md 사번`` — one decision per filled row; rows it cannot use
  are reported with their row numbers (exit 1), the good rows are still published.

Decisions are published to ``hanger.approvals.decisions``; the registrar applies them. Their
``decision_id`` is derived from the content (MD, submission, decision, category, attributes,
reason), so importing the same sheet twice or repeating a command is deduplicated downstream.

Workbooks carry text from sellers, so every string cell we write that could start a formula
(= + - @, tab, CR) is written with a leading apostrophe, and import never evaluates anything:
formula cells are refused as row errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from db.approvals import (
    PRODUCT_ATTRIBUTES,
    InvalidDecision,
    QueueItem,
    attribute_field,
    check_decision,
    leaf_categories,
    pending_requests,
    request_owners,
)
from db.repository import FALLBACK_MD, create_pool
from hanger import topics
from hanger.errors import InputError
from hanger.events import ApprovalDecided, DecisionKind, utcnow
from hanger.settings import Settings
from hanger.taxonomy import Taxonomy, load_taxonomy

_DECISION_NAMESPACE = uuid.UUID("5d0e6c2b-91a4-4b7e-8f3c-2a6d9e1b7c40")

# What people may type for each decision (the drop-down offers the English values).
_DECISION_WORDS: dict[str, DecisionKind] = {
    "approve": DecisionKind.APPROVE, "승인": DecisionKind.APPROVE,
    "override": DecisionKind.OVERRIDE, "수정승인": DecisionKind.OVERRIDE,
    "변경승인": DecisionKind.OVERRIDE,
    "reject": DecisionKind.REJECT, "반려": DecisionKind.REJECT,
    "request_change": DecisionKind.REQUEST_CHANGE, "request-change": DecisionKind.REQUEST_CHANGE,
    "수정요청": DecisionKind.REQUEST_CHANGE,
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def decision_id_for(
    md_id: str, submission_id: str, kind: DecisionKind, taxonomy_id: str | None,
    attributes: Mapping[str, str], reason: str | None,
) -> str:
    content = json.dumps([md_id, submission_id, kind.value, taxonomy_id, sorted(attributes.items()),
                          reason], ensure_ascii=False)
    return str(uuid.uuid5(_DECISION_NAMESPACE, content))


def decision_kind(word: str) -> DecisionKind:
    kind = _DECISION_WORDS.get(re.sub(r"\s+", "", word).lower())
    if kind is None:
        raise InvalidDecision("unknown_decision",
                              f"decision must be one of approve, override, reject, request_change "
                              f"(got {word!r})")
    return kind


def parse_attributes(pairs: Sequence[str]) -> dict[str, str]:
    """``["material=면 100%", "사이즈=FREE"]`` → ``{"material": "면 100%", "size": "FREE"}``."""
    attributes: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidDecision("invalid_attribute", f"expected name=value, got {pair!r}")
        field_name = attribute_field(name)
        if field_name is None:
            raise InvalidDecision("unknown_attribute",
                                  f"unknown attribute {name.strip()!r}; known: "
                                  f"{', '.join(PRODUCT_ATTRIBUTES)}")
        attributes[field_name] = value.strip()
    return attributes


def build_decision(
    *, md_id: str, submission_id: str, kind: DecisionKind, taxonomy_id: str | None,
    attributes: Mapping[str, str], reason: str | None, taxonomy: Taxonomy,
) -> ApprovalDecided:
    """A checked decision (same rules as the registrar's :func:`check_decision`)."""
    taxonomy_id = (taxonomy_id or "").strip().upper() or None
    reason = (reason or "").strip() or None
    try:
        decision = ApprovalDecided(
            decision_id=decision_id_for(md_id, submission_id, kind, taxonomy_id, attributes, reason),
            submission_id=submission_id, md_id=md_id, decision=kind, taxonomy_id=taxonomy_id,
            attributes=dict(attributes), reason=reason, decided_at=utcnow(),
        )
    except ValidationError as exc:
        raise InvalidDecision("invalid_decision", str(exc)) from exc
    check_decision(decision, taxonomy)
    return decision


def check_owner(submission_id: str, md_id: str, owners: Mapping[str, str]) -> None:
    owner = owners.get(submission_id)
    if owner is None:
        raise InvalidDecision("unknown_submission",
                              f"{submission_id} is not waiting for an MD decision")
    if owner not in (md_id, FALLBACK_MD):
        raise InvalidDecision("not_owner", f"{submission_id} is on {owner}'s queue, not {md_id}'s")


# --- Excel ------------------------------------------------------------------------------------------

# (key, header text). Import finds columns by header text, so columns may be moved or added.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("submission_id", "submission_id"),
    ("title", "상품명"),
    ("images", "이미지"),
    ("declared", "판매자 분류"),
    ("predicted", "추천 분류"),
    ("confidence", "신뢰도"),
    ("reasons", "검토 사유"),
    ("extracted", "추출 속성"),
    ("md_id", "사번"),
    ("decision", "결정"),
    ("category", "분류 변경"),
    ("attributes", "속성 변경"),
    ("reason", "사유"),
)
_HEADER = dict(COLUMNS)
_INPUT_KEYS = ("submission_id", "md_id", "decision", "category", "attributes", "reason")
QUEUE_SHEET = "queue"
CATEGORY_SHEET = "categories"


def excel_text(value: object) -> str:
    """Text that a spreadsheet will show as text: no XML-illegal characters, and a leading
    apostrophe when it would otherwise start a formula (CSV/formula injection)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text: str = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _label(taxonomy: Taxonomy, taxonomy_id: str | None) -> str:
    if not taxonomy_id:
        return ""
    node = taxonomy.nodes.get(taxonomy_id)
    return f"{taxonomy_id} {node.ko}" if node else taxonomy_id


def write_queue_workbook(items: Sequence[QueueItem], md_id: str, taxonomy: Taxonomy, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = QUEUE_SHEET
    ws.append([header for _, header in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    col = {key: i + 1 for i, (key, _) in enumerate(COLUMNS)}
    for item in items:
        predicted = _label(taxonomy, item.predicted_taxonomy)
        declared = _label(taxonomy, item.declared_taxonomy) or (
            f"{item.declared_code} (매핑 없음)" if item.declared_code else "")
        values: dict[str, object] = {
            "submission_id": item.submission_id, "title": item.title,
            "images": "\n".join(item.image_uris), "declared": declared, "predicted": predicted,
            "reasons": ", ".join(item.reasons),
            "extracted": "; ".join(f"{k}={v}" for k, v in item.attributes_extracted.items()),
            "md_id": md_id,
        }
        row = ws.max_row + 1
        for key, value in values.items():
            ws.cell(row=row, column=col[key], value=excel_text(value) if value else None)
        if item.confidence is not None:
            ws.cell(row=row, column=col["confidence"], value=float(item.confidence)).number_format = "0.0%"
        main = item.image_uris[0] if item.image_uris else ""
        if main.startswith(("https://", "http://")):  # only web links are clickable
            ws.cell(row=row, column=col["images"]).hyperlink = main
    last = max(ws.max_row, 2) + 500  # room for rows an MD adds by hand

    decisions = DataValidation(type="list", formula1='"approve,override,reject,request_change"',
                               allow_blank=True, showErrorMessage=True)
    decisions.promptTitle = "결정"
    decisions.prompt = "approve=승인, override=분류/속성 수정 후 승인, reject=반려(사유 필수), " \
                       "request_change=판매자 수정요청(사유 필수)"
    decisions.showInputMessage = True
    cats = wb.create_sheet(CATEGORY_SHEET)
    cats.append(["taxonomy_id", "분류", "category"])
    leaves = leaf_categories(taxonomy)
    for tid in leaves:
        cats.append([tid, excel_text(taxonomy.nodes[tid].ko), excel_text(taxonomy.nodes[tid].en)])
    categories = DataValidation(type="list", formula1=f"={CATEGORY_SHEET}!$A$2:$A${len(leaves) + 1}",
                                allow_blank=True, showErrorMessage=True)
    categories.promptTitle = "분류 변경"
    categories.prompt = "override일 때 필수: 분류 id (categories 시트 참고)"
    categories.showInputMessage = True
    for validation, key in ((decisions, "decision"), (categories, "category")):
        letter = get_column_letter(col[key])
        validation.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(validation)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for key in ("decision", "category", "attributes", "reason"):
        ws.cell(row=1, column=col[key]).fill = fill
    widths = {"submission_id": 38, "title": 40, "images": 40, "declared": 18, "predicted": 18,
              "reasons": 28, "extracted": 30, "decision": 16, "category": 12, "attributes": 30,
              "reason": 40}
    for key, width in widths.items():
        ws.column_dimensions[get_column_letter(col[key])].width = width
    for row_cells in ws.iter_rows(min_row=2, min_col=col["images"], max_col=col["images"]):
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    wb.save(path)


@dataclass(frozen=True)
class RowError:
    row: int
    code: str
    message: str


@dataclass
class ImportResult:
    decisions: list[tuple[int, ApprovalDecided]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def read_decisions(
    path: Path, md_id: str, taxonomy: Taxonomy, owners: Mapping[str, str] | None = None
) -> ImportResult:
    """The filled rows of a decisions workbook as checked decisions, and the rows it cannot use.

    Never evaluates anything: the workbook is opened with formulas as formulas and any formula
    cell in a filled row makes that row an error. ``owners`` (submission_id → MD) enables the
    ownership check; without it only the sheet itself is checked.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise InputError("unreadable_workbook", f"{path}: {exc}") from exc
    try:
        ws = wb[QUEUE_SHEET] if QUEUE_SHEET in wb.sheetnames else wb.worksheets[0]
        rows = ws.iter_rows()
        header_row = next(rows, None)
        headers = {str(c.value).strip(): i for i, c in enumerate(header_row or ())
                   if c.value is not None}
        missing = [_HEADER[k] for k in _INPUT_KEYS if _HEADER[k] not in headers]
        if missing:
            raise InputError("missing_column", f"{path}: missing column(s) {', '.join(missing)}")
        index = {key: headers[_HEADER[key]] for key in _INPUT_KEYS}
        result = ImportResult()
        seen: dict[str, int] = {}
        for number, cells in enumerate(rows, start=2):
            try:
                decision = _row_decision(cells, index, md_id, taxonomy, owners)
            except InvalidDecision as exc:
                result.errors.append(RowError(number, exc.code, exc.message))
                continue
            if decision is None:
                continue
            first = seen.setdefault(decision.submission_id, number)
            if first != number:
                result.errors.append(RowError(number, "duplicate_row",
                                              f"{decision.submission_id} already decided in row {first}"))
                continue
            result.decisions.append((number, decision))
        return result
    finally:
        wb.close()


def _row_decision(
    cells: Sequence[Any], index: Mapping[str, int], md_id: str, taxonomy: Taxonomy,
    owners: Mapping[str, str] | None,
) -> ApprovalDecided | None:
    def text(key: str) -> str:
        i = index[key]
        value = cells[i].value if i < len(cells) else None
        return "" if value is None else _unescape(str(value).strip())

    filled = any(text(k) for k in ("decision", "category", "attributes", "reason"))
    if not filled:
        return None
    formulas = [c.coordinate for c in cells if getattr(c, "data_type", None) == "f"]
    if formulas:
        raise InvalidDecision("formula_not_allowed",
                              f"formula in {', '.join(formulas)}: type values, not formulas")
    if not text("decision"):
        raise InvalidDecision("missing_decision", "category, attributes or reason filled but no decision")
    submission_id = text("submission_id")
    if not submission_id:
        raise InvalidDecision("missing_submission_id", "no submission_id")
    if text("md_id") != md_id:
        raise InvalidDecision("wrong_md", f"사번 {text('md_id') or '(empty)'} is not {md_id}")
    pairs = [p for p in re.split(r"[;\n]", text("attributes")) if p.strip()]
    decision = build_decision(
        md_id=md_id, submission_id=submission_id, kind=decision_kind(text("decision")),
        taxonomy_id=text("category"), attributes=parse_attributes(pairs), reason=text("reason"),
        taxonomy=taxonomy,
    )
    if owners is not None:
        check_owner(submission_id, md_id, owners)
    return decision


# --- commands ---------------------------------------------------------------------------------------


async def _queue(settings: Settings, md_id: str) -> list[QueueItem]:
    pool = await create_pool(settings)
    try:
        return await pending_requests(pool, md_id)
    finally:
        await pool.close()


async def _owners(settings: Settings, submission_ids: list[str]) -> dict[str, str]:
    pool = await create_pool(settings)
    try:
        return await request_owners(pool, submission_ids)
    finally:
        await pool.close()


async def publish_decisions(settings: Settings, decisions: Sequence[ApprovalDecided]) -> None:
    from hanger.kafka import EventProducer

    if not decisions:
        return
    async with EventProducer(settings) as producer:
        for decision in decisions:
            await producer.send(topics.APPROVAL_DECISIONS, decision.submission_id, decision)


def cmd_queue(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hanger.cli import _print_json

    items = asyncio.run(_queue(args.settings, args.md))
    if args.json:
        _print_json([i.as_json() for i in items])
        return 0
    taxonomy = load_taxonomy()
    table = Table(title=f"{args.md}: {len(items)} waiting")
    # The id is what `md decide` takes: never wrap or cut it.
    table.add_column("submission_id", no_wrap=True, min_width=36)
    for column in ("title", "declared", "predicted", "confidence", "reasons", "waiting since"):
        table.add_column(column)
    for i in items:
        table.add_row(
            i.submission_id, i.title, _label(taxonomy, i.declared_taxonomy) or i.declared_code or "",
            _label(taxonomy, i.predicted_taxonomy),
            f"{i.confidence:.1%}" if i.confidence is not None else "",
            ", ".join(i.reasons), i.waiting_since.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json

    decision = build_decision(
        md_id=args.md, submission_id=args.submission_id, kind=decision_kind(args.decision),
        taxonomy_id=args.category, attributes=parse_attributes(args.attr or []), reason=args.reason,
        taxonomy=load_taxonomy(),
    )
    check_owner(decision.submission_id, args.md,
                asyncio.run(_owners(args.settings, [decision.submission_id])))
    asyncio.run(publish_decisions(args.settings, [decision]))
    if args.json:
        _print_json(decision.model_dump(mode="json"))
    else:
        print(f"published {decision.decision.value} for {decision.submission_id} "
              f"(decision_id {decision.decision_id})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    items = asyncio.run(_queue(args.settings, args.md))
    path = Path(args.path)
    write_queue_workbook(items, args.md, load_taxonomy(), path)
    if args.json:
        from hanger.cli import _print_json

        _print_json({"path": str(path), "rows": len(items)})
    else:
        print(f"wrote {len(items)} pending item(s) to {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from hanger.cli import _print_json, _table

    path = Path(args.path)
    taxonomy = load_taxonomy()
    unchecked = read_decisions(path, args.md, taxonomy)
    owners = asyncio.run(_owners(args.settings, [d.submission_id for _, d in unchecked.decisions]))
    result = read_decisions(path, args.md, taxonomy, owners)
    asyncio.run(publish_decisions(args.settings, [d for _, d in result.decisions]))
    if args.json:
        _print_json({
            "published": [{"row": n, "submission_id": d.submission_id, "decision": d.decision.value,
                           "decision_id": d.decision_id} for n, d in result.decisions],
            "errors": [e.__dict__ for e in result.errors],
        })
    else:
        print(f"published {len(result.decisions)} decision(s) from {path}")
        if result.errors:
            _table(f"{len(result.errors)} row(s) not imported", ("row", "code", "message"),
                   [(e.row, e.code, e.message) for e in result.errors])
    return 1 if result.errors else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    md = subparsers.add_parser("md", help="MD tools: queue, decide, Excel export/import")
    actions = md.add_subparsers(dest="md_action", required=True)

    queue = actions.add_parser("queue", help="pending approval requests of one MD")
    queue.add_argument("--md", required=True, help="사번")
    queue.set_defaults(func=cmd_queue)

    decide = actions.add_parser("decide", help="publish one decision")
    decide.add_argument("submission_id")
    decide.add_argument("decision", choices=("approve", "override", "reject", "request-change"))
    decide.add_argument("--md", required=True, help="사번")
    decide.add_argument("--category", help="with override: the taxonomy id (e.g. T203)")
    decide.add_argument("--attr", action="append", metavar="NAME=VALUE",
                        help="with override: a corrected attribute (repeatable), e.g. material=면 100%%")
    decide.add_argument("--reason", help="required with reject and request-change")
    decide.set_defaults(func=cmd_decide)

    export = actions.add_parser("export", help="write the MD's queue to an .xlsx to fill in")
    export.add_argument("--md", required=True, help="사번")
    export.add_argument("path")
    export.set_defaults(func=cmd_export)

    imp = actions.add_parser("import", help="publish the decisions filled into an .xlsx")
    imp.add_argument("path")
    imp.add_argument("--md", required=True, help="사번")
    imp.set_defaults(func=cmd_import)
