"""WeMakePrice I/O shell: setProduct JSON bytes in, ``{resultCode, data}`` answers out."""

from __future__ import annotations

from pathlib import Path

from adapters.common.jsonadapter import JsonAdapter
from adapters.wemakeprice import native as n
from adapters.wemakeprice import translate as t
from hanger.events import Portal

ADAPTER = JsonAdapter(Portal.WEMAKEPRICE, n.FORMAT, t.product_id, t.to_canonical,
                      t.from_canonical, t.accepted_answer, t.rejected_answer)


def read_products(path: Path) -> bytes:
    """The bytes of a setProduct file, exactly as stored (encoding is detected by the parser)."""
    return path.read_bytes()
