"""Graph explorer: a subject's blast radius as a tree, an endpoint's exposure, what-if containment."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode as UINode

from ir_console.tui.data import TreeNode
from ir_console.tui.messages import Failed
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen
from ir_console.tui.widgets import TopBar, safe

KIND_STYLE = {
    "identity": "bold magenta",
    "credential": "bold cyan",
    "service": "bold",
    "endpoint": "",
    "client": "green",
    "group": "dim italic",
    "missing": "red",
}


class GraphLoaded(Message):
    """A tree to show for ``title``."""

    def __init__(self, title: str, tree: TreeNode | None, error: str | None = None) -> None:
        super().__init__()
        self.title = title
        self.tree = tree
        self.error = error


class GraphScreen(CaseScreen):
    """Pick a subject; see what it reaches (or who reaches it); try removing a credential."""

    TITLE_TEXT = "Graph explorer"
    AUTO_FOCUS = "#graph-tree"
    BINDINGS: ClassVar = [
        Binding("slash", "subject", "Subject"),
        Binding("w", "what_if", "What-if remove"),
        Binding("o", "reroot", "Explore node"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("l", "expand", "Expand", show=False),
        Binding("h", "collapse", "Collapse", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: tuple[str, str, str | None] | None = None  # kind, id, removed credential
        self.tree_data: TreeNode | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(self.TITLE_TEXT)
        yield Input(
            placeholder="/ subject: credential id, identity, or HOST METHOD TEMPLATE", id="subject"
        )
        yield Static(Text("name a subject to see its blast radius", style="dim"), id="graph-status")
        yield Tree(Text("no subject"), id="graph-tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Tree).focus()

    def show_subject(self, kind: str, subject: str, without: str | None = None) -> None:
        """Explore ``subject``: blast radius (credential, identity) or exposure (endpoint)."""
        self.current = (kind, subject, without)
        self.loaded_version = self.console.case_version
        self._load(kind, subject, without)

    def reload(self) -> None:
        if self.current is not None:
            self.show_subject(*self.current)

    @work(thread=True, exclusive=True, group="graph")
    def _load(self, kind: str, subject: str, without: str | None) -> None:
        try:
            if kind == "endpoint":
                tree = self.data.exposure(int(subject))
                title = "exposure: who reaches this endpoint"
            else:
                tree = self.data.blast_radius(kind, subject, without)
                title = f"blast radius of this {kind}"
                if without:
                    title = f"what-if: {kind} without credential {without}"
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not build the graph view", str(exc)))
            return
        self.post_message(GraphLoaded(title, tree))

    @work(thread=True, exclusive=True, group="graph")
    def _resolve(self, text: str) -> None:
        try:
            found = self.data.resolve_subject(text)
        except DATA_ERRORS as exc:
            self.post_message(GraphLoaded("", None, str(exc)))
            return
        if found is None:
            self.post_message(
                GraphLoaded(
                    "", None, f"no credential, identity or endpoint named {text!r} in this case"
                )
            )
            return
        kind, ident = found
        self.current = (kind, ident, None)
        if kind == "endpoint":
            tree, title = self.data.exposure(int(ident)), "exposure: who reaches this endpoint"
        else:
            tree, title = self.data.blast_radius(kind, ident), f"blast radius of this {kind}"
        self.post_message(GraphLoaded(title, tree))

    @on(Input.Submitted, "#subject")
    def _submitted(self, event: Input.Submitted) -> None:
        self._resolve(event.value)
        self.query_one(Tree).focus()

    def on_graph_loaded(self, message: GraphLoaded) -> None:
        status = self.query_one("#graph-status", Static)
        if message.tree is None:
            status.update(safe(message.error or "nothing to show", style="red", limit=300))
            return
        self.tree_data = message.tree
        status.update(Text(message.title, style="dim"))
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.set_label(self._label(message.tree))
        tree.root.data = message.tree
        self._fill(tree.root, message.tree, depth=0)
        tree.root.expand()

    def _label(self, node: TreeNode) -> Text:
        label = safe(node.label, style=KIND_STYLE.get(node.kind, ""), limit=160)
        if node.detail:
            label.append_text(safe(f"  {node.detail}", style="dim", limit=100))
        return label

    def _fill(self, parent: UINode[TreeNode], node: TreeNode, depth: int) -> None:
        for child in node.children:
            if child.children:
                ui = parent.add(self._label(child), data=child, expand=depth < 2)
                self._fill(ui, child, depth + 1)
            else:
                parent.add_leaf(self._label(child), data=child)

    def _highlighted(self) -> TreeNode | None:
        node = self.query_one(Tree).cursor_node
        return node.data if node is not None else None

    def action_subject(self) -> None:
        self.query_one("#subject", Input).focus()

    def action_reroot(self) -> None:
        node = self._highlighted()
        if (
            node is not None
            and node.subject
            and node.kind in ("credential", "identity", "endpoint")
        ):
            self.show_subject(node.kind, node.subject)

    def action_what_if(self) -> None:
        node = self._highlighted()
        if node is None or node.kind != "credential" or not node.subject:
            self.notify(
                "highlight a credential to see what its identity reaches without it", markup=False
            )
            return
        if self.current and self.current[0] == "identity":
            self.show_subject("identity", self.current[1], node.subject)
        else:
            self._what_if_for_credential(node.subject)

    @work(thread=True, exclusive=True, group="graph")
    def _what_if_for_credential(self, credential_id: str) -> None:
        try:
            detail = self.data.credential_detail(credential_id)
            if detail is None or not detail["identity"]:
                self.post_message(GraphLoaded("", None, "this credential has no identity"))
                return
            self.current = ("identity", detail["identity"], credential_id)
            tree = self.data.blast_radius("identity", detail["identity"], credential_id)
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not build the graph view", str(exc)))
            return
        self.post_message(
            GraphLoaded(f"what-if: identity without credential {credential_id}", tree)
        )

    def action_cursor_down(self) -> None:
        self.query_one(Tree).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(Tree).action_cursor_up()

    def action_expand(self) -> None:
        node = self.query_one(Tree).cursor_node
        if node is not None:
            node.expand()

    def action_collapse(self) -> None:
        node = self.query_one(Tree).cursor_node
        if node is not None:
            node.collapse()
