"""Graph explorer: a subject's blast radius as a tree, an endpoint's exposure, what-if containment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode as UINode

from discovery.errors import SubjectNotFound, UnsupportedSubject
from discovery.views.subjects import Subject
from ir_console.tui.graph_tree import TreeNode, blast_radius_tree, exposure_tree, what_if_tree
from ir_console.tui.messages import Failed, SubjectRef
from ir_console.tui.screens.base import DATA_ERRORS, CaseScreen
from ir_console.tui.widgets import KeyFooter, TopBar, safe

# what the responder named wrongly: said on the status line, not in a modal
NAMING_ERRORS = (SubjectNotFound, UnsupportedSubject)

KIND_STYLE = {
    "identity": "bold magenta",
    "credential": "bold cyan",
    "service": "bold",
    "endpoint": "",
    "client": "green",
    "host": "bold",
    "group": "dim italic",
    "missing": "red",
}


@dataclass(frozen=True, slots=True)
class GraphView:
    """What the explorer shows: a subject's answer, or an identity without one credential."""

    subject: str  # TYPE:ID
    without: str | None = None  # a credential id: the what-if of ``subject`` (an identity)


class GraphLoaded(Message):
    """A tree to show for ``title`` (``error`` instead when the subject could not be shown)."""

    def __init__(
        self,
        title: str,
        tree: TreeNode | None,
        view: GraphView | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.title = title
        self.tree = tree
        self.view = view
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
        self.current: GraphView | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(self.TITLE_TEXT)
        yield Input(
            placeholder="/ subject: credential id, identity, or HOST METHOD TEMPLATE", id="subject"
        )
        yield Static(Text("name a subject to see its blast radius", style="dim"), id="graph-status")
        yield Tree(Text("no subject"), id="graph-tree")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Tree).focus()

    def show_subject(self, subject: SubjectRef) -> None:
        """Explore ``subject``: its blast radius, or its exposure (endpoint, host)."""
        self.show(GraphView(subject.ref))

    def show(self, view: GraphView) -> None:
        self.loaded_version = self.console.case_version
        if view.without is None:
            self._explore(view.subject)
        else:
            self._what_if(view.subject, view.without)

    def reload(self) -> None:
        if self.current is not None:
            self.show(self.current)

    def _answer(self, subject: Subject) -> tuple[str, TreeNode]:
        """The graph's answer about a subject (worker thread), as a title and a tree."""
        if subject.type in ("endpoint", "host"):
            result = self.data.exposure(subject)
            return f"exposure: who reaches this {subject.type}", exposure_tree(subject, result)
        result = self.data.blast_radius(subject)
        return f"blast radius of this {subject.type}", blast_radius_tree(subject, result)

    @work(thread=True, exclusive=True, group="graph")
    def _explore(self, text: str) -> None:
        """Resolve ``text`` the CLI's way (an ambiguous name is refused) and answer for it."""
        try:
            subject = self.data.resolve(text)
            title, tree = self._answer(subject)
        except NAMING_ERRORS as exc:
            self.post_message(GraphLoaded("", None, error=str(exc)))
            return
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not build the graph view", str(exc)))
            return
        self.post_message(GraphLoaded(title, tree, GraphView(subject.ref)))

    @work(thread=True, exclusive=True, group="graph")
    def _what_if(self, identity_ref: str | None, credential_id: str) -> None:
        """What an identity (the credential's own when None) reaches without the credential."""
        try:
            credential = self.data.resolve(f"credential:{credential_id}")
            if identity_ref is None:
                holder = credential.facts.get("identity")
                if not holder:
                    self.post_message(
                        GraphLoaded("", None, error="this credential has no identity")
                    )
                    return
                identity_ref = f"identity:{holder}"
            identity = self.data.resolve(identity_ref)
            tree = what_if_tree(identity, credential, self.data.what_if([credential]))
        except NAMING_ERRORS as exc:
            self.post_message(GraphLoaded("", None, error=str(exc)))
            return
        except DATA_ERRORS as exc:
            self.post_message(Failed("could not build the graph view", str(exc)))
            return
        if tree is None:
            error = f"{identity.label} does not hold credential {credential_id}"
            self.post_message(GraphLoaded("", None, error=error))
            return
        self.post_message(
            GraphLoaded(
                f"what-if: identity without credential {credential_id}",
                tree,
                GraphView(identity.ref, credential_id),
            )
        )

    @on(Input.Submitted, "#subject")
    def _submitted(self, event: Input.Submitted) -> None:
        self.loaded_version = self.console.case_version
        self._explore(event.value)
        self.query_one(Tree).focus()

    def on_graph_loaded(self, message: GraphLoaded) -> None:
        status = self.query_one("#graph-status", Static)
        if message.tree is None:
            status.update(safe(message.error or "nothing to show", style="red", limit=300))
            return
        self.current = message.view
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
        if node is not None and node.subject and node.kind != "group":
            self.show(GraphView(node.subject))

    def action_what_if(self) -> None:
        node = self._highlighted()
        if node is None or node.kind != "credential" or not node.subject:
            self.notify(
                "highlight a credential to see what its identity reaches without it", markup=False
            )
            return
        credential_id = SubjectRef.parse(node.subject).id
        shown = self.current.subject if self.current is not None else ""
        holder = shown if shown.startswith("identity:") else None
        self.loaded_version = self.console.case_version
        self._what_if(holder, credential_id)

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
