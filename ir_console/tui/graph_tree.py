"""The graph explorer's trees, drawn from the graph's answers (``discovery.views.graph.answers``).

Pure functions from an analysis result (the JSON the CLI prints with ``graph … --json``) to a tree
of labelled nodes: the console shows the CLI's answer, never one of its own. Labels hold
captured text; the screen sanitizes them on display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from discovery.views.subjects import Subject

DETAIL_ROWS = 50  # children shown per group (the group's label gives the full count)


@dataclass
class TreeNode:
    """A node of a graph explorer tree: a label, its kind, its subject (``TYPE:ID``), children."""

    label: str
    kind: str
    subject: str | None = None
    detail: str = ""
    children: list[TreeNode] = field(default_factory=list)

    def add(self, label: str, kind: str, subject: str | None = None, detail: str = "") -> TreeNode:
        node = TreeNode(label, kind, subject, detail)
        self.children.append(node)
        return node


def _endpoint_order(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["host"], row["template"], row["method"])


def _reach(parent: TreeNode, label: str, endpoints: Iterable[dict[str, Any]]) -> None:
    """Endpoints grouped by service: ``METHOD TEMPLATE [status] N req`` (requests made with the
    subject's credentials), the sensitive data they answered as detail."""
    rows = sorted(endpoints, key=_endpoint_order)
    group = parent.add(label.format(n=len(rows)), "group")
    services: dict[str, TreeNode] = {}
    for row in rows:
        service = services.get(row["host"])
        if service is None:
            service = services[row["host"]] = group.add(
                f"service {row['host']}", "service", f"host:{row['host']}"
            )
        kinds = ",".join(row["sensitive"])
        service.add(
            f"{row['method']} {row['template']}  [{row['status']}]  {row['calls']} req",
            "endpoint",
            f"endpoint:{row['id']}",
            f"sensitive: {kinds}" if kinds else "",
        )


def _root(subject: Subject) -> TreeNode:
    facts = subject.facts
    if subject.type == "credential":
        return TreeNode(
            f"credential {subject.id} {facts.get('kind')} {facts.get('redacted')}",
            "credential",
            subject.ref,
            f"identity {facts.get('identity')}",
        )
    if subject.type == "identity":
        return TreeNode(
            f"identity {facts.get('name') or subject.id}",
            "identity",
            subject.ref,
            "registered" if facts.get("registered") else "unregistered",
        )
    return TreeNode(f"{subject.type} {subject.label}", subject.type, subject.ref)


def _held(
    parent: TreeNode, subject: Subject, credentials: list[str], removed: str | None = None
) -> None:
    verb = "presented" if subject.type == "client" else "holds"
    held = parent.add(f"{verb} {len(credentials)} credential(s)", "group")
    for cid in credentials[:DETAIL_ROWS]:
        mark = "  [removed: what-if]" if cid == removed else ""
        held.add(f"credential {cid}{mark}", "credential", f"credential:{cid}")


def blast_radius_tree(subject: Subject, result: dict[str, Any]) -> TreeNode:
    """What a credential, identity or client reaches; the clients that presented its
    credentials; the other credentials seen from those clients (``graph blast-radius``)."""
    root = _root(subject)
    if subject.type != "credential":
        _held(root, subject, [c["id"] for c in result["credentials"]])
    _reach(root, "reaches {n} endpoint(s)", result["endpoints"])
    clients = root.add("clients that presented it", "group")
    for client in result["clients"][:DETAIL_ROWS]:
        clients.add(
            f"{client['address']}  ({client['requests']} requests)",
            "client",
            f"client:{client['address']}",
        )
    others = root.add("other credentials seen from the same clients", "group")
    for cred in result["co_credentials"][:DETAIL_ROWS]:
        others.add(
            f"credential {cred['id']} {cred['redacted'] or ''}",
            "credential",
            f"credential:{cred['id']}",
        )
    return root


def exposure_tree(subject: Subject, result: dict[str, Any]) -> TreeNode:
    """Every identity, and under it every credential, that reached an endpoint or a host, with
    the requests each made there (``graph exposure``)."""
    facts = subject.facts
    if subject.type == "endpoint":
        label = (
            f"endpoint {facts.get('method')} {facts.get('host')}{facts.get('template')} "
            f"[{facts.get('status')}]"
        )
        root = TreeNode(label, "endpoint", subject.ref)
    else:
        root = _root(subject)
    names = {i["id"]: i["name"] for i in result["identities"]}
    creds = sorted(result["credentials"], key=lambda c: (c["identity"] or "?", -c["calls"]))
    group = root.add(f"reached by {len(creds)} credential(s)", "group")
    idents: dict[str, TreeNode] = {}
    for cred in creds[: DETAIL_ROWS * 40]:
        key = cred["identity"] or "?"
        node = idents.get(key)
        if node is None:
            node = idents[key] = group.add(
                f"identity {names.get(key) or key}", "identity", f"identity:{key}"
            )
        node.add(
            f"credential {cred['id']} {cred['redacted'] or ''}  {cred['calls']} req",
            "credential",
            f"credential:{cred['id']}",
        )
    return root


def what_if_tree(identity: Subject, credential: Subject, result: dict[str, Any]) -> TreeNode | None:
    """What an identity still reaches once one of its credentials is contained (``graph
    what-if``); None when the identity does not hold that credential."""
    change = next((i for i in result["identities"] if i["id"] == identity.id), None)
    if change is None:
        return None
    root = _root(identity)
    _held(root, identity, list(identity.facts.get("credentials") or []), credential.id)
    lost = root.add(f"no longer reached without {credential.id}: {len(change['lost'])}", "group")
    for key in change["lost"][:DETAIL_ROWS]:
        host, method, template = key.split(" ", 2)
        lost.add(f"{method} {host}{template}", "endpoint", f"endpoint:{key}")
    still = root.add(f"still reached: {change['after']}", "group")
    _reach(still, "reaches {n} endpoint(s)", change["still_reaches"])
    return root
