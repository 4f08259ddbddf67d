"""Portal name → adapter. The one place that knows which adapters exist."""

from __future__ import annotations

from adapters.common.pipeline import PortalAdapter
from adapters.coupang_wings.io import ADAPTER as COUPANG
from adapters.tmon.io import ADAPTER as TMON
from adapters.wemakeprice.io import ADAPTER as WEMAKEPRICE
from hanger.events import Portal

ADAPTERS: dict[Portal, PortalAdapter] = {
    Portal.COUPANG_WINGS: COUPANG,
    Portal.TMON: TMON,
    Portal.WEMAKEPRICE: WEMAKEPRICE,
}


def adapter_for(portal: Portal | str) -> PortalAdapter:
    return ADAPTERS[Portal(portal)]
