"""TMON I/O shell: deal JSON bytes in, TMON-shaped JSON answers out (see :mod:`.native`)."""

from __future__ import annotations

from pathlib import Path

from adapters.common.jsonadapter import JsonAdapter
from adapters.tmon import native as n
from adapters.tmon import translate as t
from hanger.events import Portal

ADAPTER = JsonAdapter(Portal.TMON, n.FORMAT, t.deal_id, t.to_canonical, t.from_canonical,
                      t.accepted_answer, t.rejected_answer)


def read_deals(path: Path) -> bytes:
    """The bytes of a deal file, exactly as stored (encoding is detected by the parser)."""
    return path.read_bytes()
