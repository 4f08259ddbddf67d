"""Row/field-level validation issues, shaped like marketplace listing APIs report them.

An :class:`Issue` says *what* (``code``, stable snake_case), *why* (``message``, for people, Korean
where the portal's own answers are Korean), *how bad* (``severity``) and *where* (``field`` as the
portal names it, ``row`` for spreadsheet rows). Errors reject the item they belong to; warnings
travel with an accepted item (formula neutralised, category not mapped …).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    severity: Severity = Severity.ERROR
    field: str | None = None
    row: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message,
                               "severity": self.severity.value}
        if self.field is not None:
            out["field"] = self.field
        if self.row is not None:
            out["row"] = self.row
        return out

    def describe(self) -> str:
        where = ", ".join(
            p for p in (f"row {self.row}" if self.row is not None else "", self.field or "") if p
        )
        return f"{self.code}{f' [{where}]' if where else ''}: {self.message}"


def error(code: str, message: str, field: str | None = None, row: int | None = None) -> Issue:
    return Issue(code, message, Severity.ERROR, field, row)


def warning(code: str, message: str, field: str | None = None, row: int | None = None) -> Issue:
    return Issue(code, message, Severity.WARNING, field, row)


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(i.is_error for i in issues)


def errors_only(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.is_error]
