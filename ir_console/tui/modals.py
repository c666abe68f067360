"""Modals: confirmations (typed for irreversible steps), prompts, a leaked secret (masked),
choices, a failed step's choices, a runbook's inputs (secrets masked), errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ir_console.sanitize import clean
from ir_console.tui.widgets import safe

if TYPE_CHECKING:
    from runbooks.model import Runbook


class ConfirmModal(ModalScreen[bool]):
    """Yes/no; with ``typed`` set, the answer is yes only once that exact text is typed.

    The keys that answer are written in the dialog (``y`` answers yes and ``n`` no when
    nothing is to be typed; escape always cancels)."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "yes", "Yes", show=False),
        Binding("n", "no", "No", show=False),
    ]

    def __init__(self, question: Text, typed: str | None = None, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.typed = typed
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(self.question, classes="modal-text")
            if self.typed is not None:
                hint = Text("type ")
                hint.append_text(safe(self.typed, style="bold"))
                hint.append(" to confirm")
                yield Static(hint, classes="modal-hint")
                yield Input(id="typed", placeholder=self.typed)
            with Horizontal(classes="modal-buttons"):
                yield Button(self.yes, id="yes", variant="error", disabled=self.typed is not None)
                yield Button("Cancel", id="no")
            yield Static(self.keys(), classes="modal-hint", id="modal-keys")

    def keys(self) -> Text:
        """The keys this dialog answers to, as the responder reads them."""
        if self.typed is not None:
            return Text(f"type the step id, then enter: {self.yes.lower()}  ·  esc: cancel")
        return Text(
            f"y: {self.yes.lower()}  ·  n or esc: cancel  ·  tab: next button, enter presses it"
        )

    def on_mount(self) -> None:
        if self.typed is not None:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#no", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # with a step id to type, letters are text: only the typed id and enter say yes
        return not (self.typed is not None and action in ("yes", "no"))

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = event.value != self.typed

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value == self.typed:
            self.dismiss(True)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(Text(self.question), classes="modal-text")
            yield Input(value=self.value, id="answer")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SecretModal(ModalScreen[str | None]):
    """Ask for a leaked secret, never echoed: the input shows a bullet per character (the
    screen, a recording of the session or a screenshot never holds it); the value is handed to
    the caller once and the field cleared."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(Text(self.question), classes="modal-text")
            yield Input(password=True, id="secret", placeholder="paste or type; never shown")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#secret")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value
        event.input.value = ""
        self.dismiss(value if value.strip() else None)

    def action_cancel(self) -> None:
        self.query_one(Input).value = ""
        self.dismiss(None)


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of several options (id, label)."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ]

    def __init__(self, title: Text, options: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    HINT: ClassVar[str] = "j/k or arrows: move  ·  enter: choose  ·  esc: cancel"

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(self.title_text, classes="modal-text")
            yield OptionList(*(Option(label, id=key) for key, label in self.options))
            yield Static(Text(self.HINT), classes="modal-hint", id="modal-keys")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class FailureModal(ChoiceModal):
    """What follows a failed step: a choice among the engine's (``r``/``s``/``b``/``x``).

    Escape means stop: nothing is called again and nothing is rolled back.
    """

    KEYS: ClassVar = {"r": "retry", "s": "skip", "b": "rollback", "x": "stop"}
    HINT: ClassVar[str] = (
        "r: retry  ·  s: skip  ·  b: roll back  ·  x or esc: stop  ·  enter: the highlighted one"
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Stop"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        *(Binding(key, f"choose('{choice}')", choice.capitalize()) for key, choice in KEYS.items()),
    ]

    def action_choose(self, choice: str) -> None:
        if choice in {key for key, _ in self.options}:
            self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss("stop")


@dataclass(frozen=True)
class InputValues:
    """What the responder typed for a run: public values and secrets (never in a repr)."""

    params: dict[str, str]
    secrets: dict[str, str] = field(repr=False)


class InputsModal(ModalScreen[InputValues | None]):
    """A runbook's declared inputs; secret ones typed masked, kept in memory only.

    Empty fields are left to the engine (default, environment variable, vault); values are
    checked with the engine's own rules before the modal closes.
    """

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, runbook: Runbook, params: dict[str, str], secrets: dict[str, str], yes: str = "Run"
    ) -> None:
        super().__init__()
        self.runbook = runbook
        self.params = params
        self.secrets = secrets
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal inputs"):
            title = Text("Inputs of ", style="bold")
            title.append_text(safe(self.runbook.id, style="bold"))
            yield Static(title, classes="modal-text")
            with VerticalScroll(id="inputs-form"):
                for name, spec in self.runbook.inputs.items():
                    yield Static(self._label(name), classes="input-label")
                    if spec.secret:
                        value = self.secrets.get(name, "")
                    elif name in self.params:
                        value = self.params[name]
                    else:
                        value = "" if spec.default is None else _text(spec.default)
                    yield Input(
                        value=value,
                        password=spec.secret,
                        id=f"in-{name}",
                        placeholder=self._placeholder(name),
                    )
            yield Static(Text(""), id="inputs-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(self.yes, id="yes", variant="error")
                yield Button("Cancel", id="no")
            yield Static(
                Text(
                    f"enter or tab: next field  ·  enter on the last: {self.yes.lower()}"
                    "  ·  esc: cancel"
                ),
                classes="modal-hint",
                id="modal-keys",
            )

    def _label(self, name: str) -> Text:
        spec = self.runbook.inputs[name]
        flags = (
            [spec.type]
            + (["required"] if spec.required else [])
            + (["secret, masked, never stored"] if spec.secret else [])
        )
        out = safe(name, style="bold")
        out.append(f"  ({', '.join(flags)})", style="dim")
        if spec.description:
            out.append("  ")
            out.append_text(safe(spec.description, limit=200))
        out.no_wrap = False  # a long description wraps rather than hiding its end
        return out

    def _placeholder(self, name: str) -> str:
        spec = self.runbook.inputs[name]
        hints = ["typed masked, kept in memory only"] if spec.secret else []
        if spec.choices is not None:
            hints.append("one of " + ", ".join(_text(c) or '""' for c in spec.choices))
        if spec.env:
            hints.append(f"empty: ${spec.env}")
        if spec.vault:
            hints.append("empty: the vault")
        return clean("; ".join(hints), limit=200)

    def on_mount(self) -> None:
        fields = list(self.query(Input))
        if fields:
            fields[0].focus()
        else:
            self.query_one("#yes", Button).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last one it submits."""
        fields = list(self.query(Input))
        index = fields.index(event.input)
        if index + 1 < len(fields):
            fields[index + 1].focus()
        else:
            self._submit()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self._submit()

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        from runbooks.engine import resolve_inputs
        from runbooks.errors import RunbookError

        params: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name, spec in self.runbook.inputs.items():
            value = self.query_one(f"#in-{name}", Input).value
            if spec.secret:
                if value:
                    secrets[name] = value
            elif value.strip():
                params[name] = value.strip()
        missing = [
            name
            for name, spec in self.runbook.inputs.items()
            if spec.required
            and name not in params
            and name not in secrets
            and not spec.vault
            and not (spec.env and os.environ.get(spec.env))
        ]
        if missing:
            self._error(f"{missing[0]} is required", secrets)
            return
        # a secret left empty may still come from the vault: the engine decides when it runs
        check = {
            **secrets,
            **{
                name: "x"
                for name, spec in self.runbook.inputs.items()
                if spec.vault and name not in secrets
            },
        }
        try:
            resolve_inputs(self.runbook, params, check)
        except RunbookError as exc:
            self._error(str(exc), secrets)
            return
        self.dismiss(InputValues(params, secrets))

    def _error(self, message: str, secrets: dict[str, str]) -> None:
        for value in secrets.values():
            message = message.replace(value, "[secret]")
        self.query_one("#inputs-error", Static).update(safe(message, style="bold red", limit=300))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _text(value: object) -> str:
    """An input's default or choice as the text a responder would type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ErrorModal(ModalScreen[None]):
    """An error with a title: shown, never a crash."""

    BINDINGS: ClassVar = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title_text = title
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal error"):
            yield Static(safe(self.title_text, style="bold red", limit=200), classes="modal-text")
            yield Static(
                Text(clean(self.error, single_line=False, limit=2000)), classes="modal-text"
            )
            yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    @on(Button.Pressed)
    def _close(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
