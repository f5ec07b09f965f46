"""One engine for every multi-step form: declarations of steps, run on the dialog-state row.

A `Form` declares its steps (each with how it asks — text and keyboard —, how it reads a typed
answer or a pressed button, how the answer is stored and which step follows) and what happens
at the end. The engine does the rest, the same way for every form (model: aiogram_dialog's
example/wizard.py):

- The dialog data is treated as immutable: every answer builds a new dict, which is stored
  (`ctx.set_dialog`) in the same transaction; nothing is ever changed in place.
- A question answered with a button is edited to show the answer ("Skills: Media,
  Translation"); a multi-select step toggles in place, and refuses "Done" with nothing chosen
  when an answer is required (a localised alert).
- An optional preview step gets one "change" button per answer; the changed answer, and any
  question it makes necessary, are asked, then the preview comes back.

Button data: the form's `AnswerButton` class, "<prefix>:<step>:<value>"; a button of a step
the dialog is no longer at is stale. Values starting with "@" are the preview's "change"
buttons. Each form is drawn in `handlers/<flow>.mmd`, which names every step
(tests/handlers/test_forms.py checks it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers import fields
from handlers.callbacks import StaleButton
from handlers.context import Context
from handlers.fields import DONE, AnswerButton, Invalid, Question
from handlers.i18n import Html, Translator
from handlers.ports import Button, Keyboard
from handlers.routing import Router

Data = Mapping[str, Any]
FINISH = "_finish"  # a `then` that ends the form with Form.finish
CHANGE = "@"  # prefix of the preview's "change this answer" values
RETURN = "_return"  # data key: the preview to come back to after a change

Ask = Callable[[Translator, Data, type[AnswerButton]], tuple[str, Keyboard | None]]
ReadText = Callable[[Translator, Data, str, type[AnswerButton]], Any]
ReadButton = Callable[[Data, str], Any]
Store = Callable[[Context, Data, Any], dict[str, Any]]
Shown = Callable[[Translator, Data, Any], str]
Then = Callable[[Data, Any], str | None]
Effect = Callable[[Context, Data, Any], Awaitable[None]]


def _store_under(key: str) -> Store:
    def store(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
        return {**data, key: value}

    return store


@dataclass(frozen=True, slots=True)
class Step:
    """One question of a form.

    `ask` gives the text and keyboard; `read_text` turns a typed answer into a value (raising
    `Invalid`), None when the step takes buttons only; `read_button` turns a pressed value
    into a value, None for a value the step does not offer (the button is then stale).
    `multi` steps toggle `choices` until "Done" (refused when empty if `required`). `store`
    builds the new data (default: the value under `key`); `effect` does what else the answer
    needs (switch language, tell the person); `shown` is what the question reads once
    answered (None: just remove its buttons); `then` names the following step (default: the
    next one of `Form.order`), `FINISH`, or None when `effect` already moved the dialog on.
    """

    name: str
    ask: Ask
    read_text: ReadText | None = None
    read_button: ReadButton | None = None
    multi: bool = False
    choices: tuple[str, ...] = ()
    required: bool = False
    key: str = ""
    store: Store | None = None
    effect: Effect | None = None
    shown: Shown | None = None
    then: Then | None = None

    @property
    def data_key(self) -> str:
        """Where the answer is kept in the dialog data."""
        return self.key or self.name


@dataclass(frozen=True, slots=True)
class Form:
    """A declared form: its flow name, steps, order, button class, preview and ending."""

    flow: str
    button: type[AnswerButton]
    steps: Mapping[str, Step]
    order: Callable[[Data], list[str]]
    finish: Callable[[Context, Data], Awaitable[None]]
    preview: str | None = None
    changeable: Callable[[Data], Sequence[str]] = field(default=lambda data: ())
    change_label: Callable[[Translator, str], str] = field(default=lambda t, name: name)
    legacy_buttons: tuple[type[AnswerButton], ...] = ()

    def step(self, name: str) -> Step:
        """The step called `name` (StaleButton for a step this form does not have)."""
        step = self.steps.get(name)
        if step is None:
            raise StaleButton(name)
        return step


def question_step(question: Question, **overrides: Any) -> Step:
    """A form step asking one profile question of handlers/fields.py."""

    def ask(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard | None]:
        return fields.ask(t, question, dict(data), kind)

    def read_text(t: Translator, data: Data, text: str, kind: type[AnswerButton]) -> Any:
        return fields.parse_text(t, question, text, dict(data), kind)

    def read_button(data: Data, raw: str) -> Any:
        return fields.parse_button(question, raw, dict(data))

    def shown(t: Translator, data: Data, value: Any) -> str:
        return "\n".join(fields.summary_lines(t, dict(data), [question.name]))

    typed = question.kind not in ("choice", "multi")
    values: dict[str, Any] = {
        "name": question.name,
        "ask": ask,
        "read_text": read_text if typed else None,
        "read_button": read_button,
        "multi": question.kind == "multi",
        "choices": question.options if question.kind == "multi" else (),
        "required": question.required,
        "shown": shown,
    }
    return Step(**{**values, **overrides})


def store_discreet(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    """Keeps the discreet-mode answer ("yes"/"no") as a boolean."""
    return {**data, "discreet": value == "yes"}


def current(ctx: Context, form: Form) -> tuple[Step, Data]:
    """The step this person's dialog is at, with its data (StaleButton when not in the form)."""
    if ctx.dialog is None or ctx.dialog.flow != form.flow:
        raise StaleButton(f"no {form.flow} in progress")
    return form.step(ctx.dialog.step), dict(ctx.dialog.data)


def keyboard(ctx: Context, form: Form, step: Step, data: Data) -> tuple[str, Keyboard | None]:
    """The question of `step` and its buttons (with the "change" buttons on a preview)."""
    text, rows = step.ask(ctx.t, data, form.button)
    if step.name == form.preview:
        changes = [
            Button(
                "✏️ " + form.change_label(ctx.t, name), form.button(step.name, CHANGE + name).pack()
            )
            for name in form.changeable(data)
        ]
        pairs = [changes[i : i + 2] for i in range(0, len(changes), 2)]
        rows = [*pairs, *(rows or [])]
    return text, rows


def ask(ctx: Context, form: Form, name: str, data: Data) -> None:
    """Sends the question of step `name`."""
    ctx.reply(*keyboard(ctx, form, form.step(name), data))


async def start(ctx: Context, form: Form, data: Data, first: str | None = None) -> None:
    """Starts the form at `first` (default: its first step) with `data`, and asks it."""
    name = first or form.order(data)[0]
    await ctx.set_dialog(form.flow, name, dict(data))
    ask(ctx, form, name, data)


async def go(ctx: Context, form: Form, name: str, data: Data) -> None:
    """Moves the dialog to step `name` with `data` (stored) and asks it; FINISH ends the form."""
    if name == FINISH:
        await form.finish(ctx, data)
        return
    if name == form.preview and RETURN in data:
        data = {key: value for key, value in data.items() if key != RETURN}
    await ctx.set_dialog(form.flow, name, dict(data))
    ask(ctx, form, name, data)


def _following(form: Form, step: Step, data: Data, value: Any) -> str | None:
    if step.then is not None:
        return step.then(data, value)
    order = form.order(data)
    if step.name not in order:
        return order[0]
    rest = order[order.index(step.name) + 1 :]
    if RETURN in data:
        for name in rest:
            later = form.steps[name]
            if name == data[RETURN] or later.data_key not in data:
                return name
    return rest[0] if rest else FINISH


async def accept(ctx: Context, form: Form, step: Step, data: Data, value: Any) -> None:
    """Stores an answer (a new dict), runs its effect, shows it, and goes on."""
    store = step.store or _store_under(step.data_key)
    new = store(ctx, data, value)
    if step.effect is not None:
        await step.effect(ctx, new, value)
    if ctx.event.callback_id is not None:
        if step.shown is not None:
            ctx.edit(Html(step.shown(ctx.t, new, value)))
        else:
            ctx.edit_keyboard(None)
    following = _following(form, step, new, value)
    if following is not None:
        await go(ctx, form, following, new)


async def on_button(ctx: Context, form: Form, button: AnswerButton) -> None:
    """Takes an answer chosen with a button of `form`."""
    step, data = current(ctx, form)
    if button.question != step.name:
        raise StaleButton(button.question)
    raw = button.value
    if step.name == form.preview and raw.startswith(CHANGE):
        name = raw[len(CHANGE) :]
        if name not in form.changeable(data):
            raise StaleButton(raw)
        ctx.answer()
        ctx.edit_keyboard(None)
        await ctx.set_dialog(form.flow, name, {**data, RETURN: step.name})
        ask(ctx, form, name, data)
        return
    if step.multi:
        await _multi(ctx, form, step, data, raw)
        return
    value = step.read_button(data, raw) if step.read_button is not None else None
    if value is None:
        raise StaleButton(raw)
    ctx.answer()
    await accept(ctx, form, step, data, value)


async def _multi(ctx: Context, form: Form, step: Step, data: Data, raw: str) -> None:
    chosen = list(data.get(step.data_key) or [])
    if raw == DONE:
        if step.required and not chosen:
            ctx.answer(ctx.t("forms.choose_one"), alert=True)
            return
        ctx.answer()
        await accept(ctx, form, step, data, chosen)
        return
    if raw not in step.choices:
        raise StaleButton(raw)
    selected = set(chosen) ^ {raw}
    new = {**data, step.data_key: [value for value in step.choices if value in selected]}
    await ctx.set_dialog(form.flow, step.name, new)
    ctx.answer()
    ctx.edit_keyboard(keyboard(ctx, form, step, new)[1])


async def on_text(ctx: Context, form: Form) -> None:
    """Takes a typed answer, or says what is wrong with it and asks again."""
    step, data = current(ctx, form)
    if step.read_text is None:
        ctx.reply(ctx.t("invalid.use_buttons"))
        ask(ctx, form, step.name, data)
        return
    try:
        value = step.read_text(ctx.t, data, ctx.event.text or "", form.button)
    except Invalid as problem:
        ctx.reply(problem.message, problem.keyboard)
        if problem.keyboard is None:
            ask(ctx, form, step.name, data)
        return
    await accept(ctx, form, step, data, value)


def resume(ctx: Context, form: Form) -> None:
    """Asks again the question the person stopped at."""
    step, data = current(ctx, form)
    ask(ctx, form, step.name, data)


def route(form: Form, router: Router) -> None:
    """Routes the form's buttons (and its legacy prefixes) and typed answers to the engine."""

    async def pressed(ctx: Context, button: AnswerButton) -> None:
        """Takes an answer chosen with a button."""
        await on_button(ctx, form, button)

    async def typed(ctx: Context) -> None:
        """Takes a typed answer, or says what is wrong with it and asks again."""
        await on_text(ctx, form)

    for kind in (form.button, *form.legacy_buttons):
        router.button(kind)(pressed)
    router.dialog(form.flow)(typed)
