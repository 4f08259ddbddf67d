"""A small durable map submission_id → original native envelope, for the bridge's return trip.

``ProductEnriched`` carries the submission (and so the native payload), but ``ProductRegistered``
does not; the bridge remembers each native when it answers the enriched event and looks it up when
the registration arrives. SQLite from the standard library: one file under ``settings.state_dir``,
safe across restarts, no server.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


class NativeStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS natives (submission_id TEXT PRIMARY KEY, portal TEXT, "
            "portal_product_id TEXT, native TEXT NOT NULL)"
        )
        self._db.commit()

    def put(self, submission_id: str, portal: str, portal_product_id: str,
            native: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO natives VALUES (?, ?, ?, ?)",
            (submission_id, portal, portal_product_id, json.dumps(native, ensure_ascii=False)),
        )
        self._db.commit()

    def get(self, submission_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT native FROM natives WHERE submission_id = ?",
                               (submission_id,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def close(self) -> None:
        self._db.close()
