"""Portal category codes ⇄ our taxonomy, through ``hanger/taxonomy.json`` (``portal_codes``).

A declared code that does not map is *flagged* (warning ``unmapped_category``, ``taxonomy_id``
None, which the enrich stage turns into ``flags.unmapped_declared_category``) — never dropped: the
code travels on in ``declared_category.portal_code`` and comes back unchanged unless we own a
better one.
"""

from __future__ import annotations

from adapters.common.issues import Issue, warning
from hanger.events import DeclaredCategory, Portal
from hanger.taxonomy import load_taxonomy


def declared_category_values(portal: Portal, code: str | None,
                             path: str | None) -> dict[str, str | None]:
    """The seller's category as declared, with our taxonomy id when the code is mapped: the
    fields of a :class:`DeclaredCategory` as data, validated inside the event's own pass."""
    code = (code or "").strip()
    taxonomy_id = load_taxonomy().from_portal_code(portal.value, code) if code else None
    return {"portal_code": code, "portal_path": path, "taxonomy_id": taxonomy_id}


def portal_code_for(portal: Portal, declared_code: str | None, taxonomy_id: str) -> str | None:
    """The code to write back for ``taxonomy_id``: the seller's own code when it already means
    that category (it may be more specific than ours), else the portal's preferred code, else
    None (no mapping — the caller keeps the seller's code and says so)."""
    taxonomy = load_taxonomy()
    if declared_code and taxonomy.from_portal_code(portal.value, declared_code) == taxonomy_id:
        return declared_code
    return taxonomy.to_portal_code(portal.value, taxonomy_id)


def replacement_code(portal: Portal, declared: object, taxonomy_id: str | None) -> str | None:
    """The code to write over the seller's category ``declared`` (as sent), or None to leave it:
    only when we own a category (``taxonomy_id``) that the declared code does not already mean."""
    if not taxonomy_id:
        return None
    code = portal_code_for(portal, None if declared in (None, "") else str(declared), taxonomy_id)
    return code if code and code != str(declared) else None


def taxonomy_label(taxonomy_id: str) -> str:
    taxonomy = load_taxonomy()
    if taxonomy_id not in taxonomy.nodes:
        return taxonomy_id
    return f"{taxonomy_id} {taxonomy.node(taxonomy_id).ko}"


def category_warnings(declared: DeclaredCategory, row: int | None = None) -> list[Issue]:
    """The warnings an accepted product carries about its declared category."""
    if not declared.portal_code:
        return [warning("no_declared_category", "카테고리가 비어 있습니다: 분류 결과로 채웁니다",
                        "category", row)]
    if declared.taxonomy_id is None:
        return [warning("unmapped_category",
                        f"카테고리 코드 {declared.portal_code}는 분류 체계에 매핑되지 않았습니다 "
                        "(표시만 하고 그대로 보존합니다)", "category", row)]
    return []
