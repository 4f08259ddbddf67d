"""The product taxonomy (``hanger/taxonomy.json``): stable ids, Korean/English names, parents,
the mapping of the classifier's training labels onto leaves, and each portal's category codes.

Read once per process through :func:`load_taxonomy` (cached); never at import time.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Node:
    id: str
    parent: str | None
    ko: str
    en: str
    retired: bool = False


@dataclass(frozen=True)
class Taxonomy:
    version: str
    nodes: dict[str, Node]
    training_labels: dict[str, str | None]
    portal_codes: dict[str, dict[str, str]]  # portal -> portal category code -> taxonomy id

    def node(self, taxonomy_id: str) -> Node:
        return self.nodes[taxonomy_id]

    def is_leaf(self, taxonomy_id: str) -> bool:
        return taxonomy_id in self.nodes and not any(
            n.parent == taxonomy_id for n in self.nodes.values()
        )

    def top_level(self, taxonomy_id: str) -> str:
        node = self.nodes[taxonomy_id]
        while node.parent is not None:
            node = self.nodes[node.parent]
        return node.id

    def from_portal_code(self, portal: str, code: str) -> str | None:
        """Our taxonomy id for a portal's category code, or None when the code is not mapped."""
        return self.portal_codes.get(portal, {}).get(code.strip())

    def to_portal_code(self, portal: str, taxonomy_id: str) -> str | None:
        """The portal's preferred code for a taxonomy id (first listed wins), or None."""
        for code, tid in self.portal_codes.get(portal, {}).items():
            if tid == taxonomy_id:
                return code
        return None


def parse_taxonomy(data: dict[str, Any]) -> Taxonomy:
    nodes = {n["id"]: Node(**n) for n in data["nodes"]}
    for node in nodes.values():
        if node.parent is not None and node.parent not in nodes:
            raise ValueError(f"taxonomy node {node.id} has unknown parent {node.parent}")
    labels: dict[str, str | None] = dict(data.get("training_labels", {}))
    for label, tid in labels.items():
        if tid is not None and tid not in nodes:
            raise ValueError(f"training label {label!r} maps to unknown taxonomy id {tid}")
    portal_codes: dict[str, dict[str, str]] = {
        portal: {str(code): tid for code, tid in table.items() if not code.startswith("_")}
        for portal, table in data.get("portal_codes", {}).items()
    }
    for portal, table in portal_codes.items():
        for code, tid in table.items():
            if tid not in nodes:
                raise ValueError(f"{portal} code {code} maps to unknown taxonomy id {tid}")
    return Taxonomy(str(data["version"]), nodes, labels, portal_codes)


@functools.cache
def load_taxonomy() -> Taxonomy:
    text = resources.files("hanger").joinpath("taxonomy.json").read_text(encoding="utf-8")
    return parse_taxonomy(json.loads(text))
