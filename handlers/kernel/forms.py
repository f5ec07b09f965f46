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

Button data: the form's `AnswerButton` class, "<prefix>:<step>~<run>:<value>"; a button of a
step the dialog is no longer at is stale, and so is one of an earlier run of the form (each
start draws a new `run`, kept in the data): after /cancel and a new /start the old questions'
buttons, though their step is the same, change nothing. Values starting with "@" are the
preview's "change" buttons. A step's `key` may be a path ("audience.skills"): the answer is
kept in a nested dict, rebuilt (never changed in place) on every answer. Each form is drawn in
`handlers/<flow>.mmd`, which names every step (tests/handlers/test_forms.py checks it).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, Translator, media_words
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard, Messenger
from handlers.kernel.routing import Router
from storage import dialogs

DONE = "_done"  # the value of a multi-select's "Done" button


class AnswerButton(CallbackData):
    """An answer to a question, pressed in some flow: "<flow prefix>:<question>:<value>".

    Each flow subclasses it with its own prefix; the value is checked by the question.
    """

    question: str
    value: str


Data = Mapping[str, Any]
FINISH = "_finish"  # a `then` that ends the form with Form.finish
STAY = "_stay"  # a `then` that stores the answer and stays at the step without asking again
NEXT = "_next"  # a `then` that goes on as if the step had no `then` (the form's order)
CHANGE = "@"  # prefix of the preview's "change this answer" values
RETURN = "_return"  # data key: the preview to come back to after a change
RUN = "_run"  # data key: this run of the form, stamped on its buttons (see the module's doc)
RUN_MARK = "~"

Message = tuple[str, Keyboard | None]
Ask = Callable[[Translator, Data, type[AnswerButton]], Message]
View = Callable[[Context, Data], Awaitable[Mapping[str, Any]]]
Before = Callable[[Translator, Data, type[AnswerButton]], Sequence[Message]]
Skip = Callable[[Context, Data], Awaitable[bool]]
ReadText = Callable[[Context, Data, str, type[AnswerButton]], Any]
ReadButton = Callable[[Data, str], Any]
Store = Callable[[Context, Data, Any], dict[str, Any]]
Shown = Callable[[Translator, Data, Any], str]
Then = Callable[[Data, Any], str | None]
Effect = Callable[[Context, Data, Any], Awaitable[None]]


def get_in(data: Data, key: str) -> Any:
    """The value at `key` ("a.b" reads data["a"]["b"]); None when absent."""
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def has(data: Data, key: str) -> bool:
    """Whether `key` ("a.b" for nested) holds an answer."""
    head, _, rest = key.partition(".")
    if head not in data:
        return False
    return not rest or (isinstance(data[head], Mapping) and has(data[head], rest))


def put_in(data: Data, key: str, value: Any) -> dict[str, Any]:
    """A new dict like `data` with `value` at `key` (nested dicts on the path are new too)."""
    head, _, rest = key.partition(".")
    if not rest:
        return {**data, head: value}
    inner = data.get(head)
    return {**data, head: put_in(inner if isinstance(inner, Mapping) else {}, rest, value)}


def _store_under(key: str) -> Store:
    def store(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
        return put_in(data, key, value)

    return store


@dataclass(frozen=True, slots=True)
class Step:
    """One question of a form.

    `ask` gives the text and keyboard; `read_text` turns a typed answer into a value, or raises
    `InvalidInput` (the engine says why and asks again — or, when the exception carries a
    keyboard of suggestions, lets those stand for the question); None when the step takes
    buttons only. `read_button` turns a pressed value into a value, None for a value the step
    does not offer (the button is then stale).
    `multi` steps toggle `choices` (or what `read_button` accepts) until "Done" (refused when
    empty if `required`). `view` loads what the question shows from the database (merged into
    the data it is asked with, never stored); `before` gives messages sent ahead of the question;
    `skip` says the step has nothing to ask (it is passed over); `read_view`: whether
    `read_button` needs what `view` loads (False: a pressed value is read from the answers
    alone, and the view — the preview's counts, the audience's — is not loaded just to read
    it: issue 17, they held the write lock of "Send it"). `store`
    builds the new data (default: the value under `key`); `effect` does what else the answer
    needs (switch language, tell the person); `shown` is what the question reads once
    answered (None: just remove its buttons); `then` names the following step (default: the
    next one of `Form.order`), `FINISH`, `STAY`, or None when `effect` already moved the dialog
    on.
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
    view: View | None = None
    before: Before | None = None
    skip: Skip | None = None
    read_view: bool = True

    @property
    def data_key(self) -> str:
        """Where the answer is kept in the dialog data."""
        return self.key or self.name


@dataclass(frozen=True, slots=True)
class Form:
    """A declared form: its flow name, steps, order, button class, preview and ending."""

    flow: str
    button: type[AnswerButton]  # AnswerButton itself: a form typed only, with no buttons
    steps: Mapping[str, Step]
    order: Callable[[Data], list[str]]
    finish: Callable[[Context, Data], Awaitable[None]]
    preview: str | None = None
    changeable: Callable[[Data], Sequence[str]] = field(default=lambda data: ())
    change_label: Callable[[Translator, str], str] = field(default=lambda t, name: name)
    legacy_buttons: tuple[type[AnswerButton], ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # old question name → its step
    legacy_change: str | None = None  # an old question whose value means "change that answer"
    diagram: str = ""  # the .mmd file next to the module (default: "<flow>.mmd")

    def step(self, name: str) -> Step:
        """The step called `name` (StaleButton for a step this form does not have)."""
        step = self.steps.get(name)
        if step is None:
            raise StaleButton(name)
        return step


def current(ctx: Context, form: Form) -> tuple[Step, Data]:
    """The step this person's dialog is at, with its data (StaleButton when not in the form)."""
    if ctx.dialog is None or ctx.dialog.flow != form.flow:
        raise StaleButton(f"no {form.flow} in progress")
    return form.step(ctx.dialog.step), dict(ctx.dialog.data)


async def shown_data(ctx: Context, step: Step, data: Data) -> Data:
    """The data a question is asked with: the answers, and what its `view` loads."""
    return {**data, **(await step.view(ctx, data))} if step.view is not None else data


async def pressed_data(ctx: Context, step: Step, data: Data) -> Data:
    """The data a pressed button is read with: `shown_data`, or the answers alone when the
    step reads its buttons without its view (`Step.read_view`)."""
    return await shown_data(ctx, step, data) if step.read_view else data


async def keyboard(ctx: Context, form: Form, step: Step, data: Data) -> Message:
    """The question of `step` and its buttons (with the "change" buttons on a preview)."""
    text, rows = step.ask(ctx.t, await shown_data(ctx, step, data), form.button)
    if step.name == form.preview:
        changes = [
            Button(
                "✏️ " + form.change_label(ctx.t, name), form.button(step.name, CHANGE + name).pack()
            )
            for name in form.changeable(data)
        ]
        pairs = [changes[i : i + 2] for i in range(0, len(changes), 2)]
        rows = [*pairs, *(rows or [])]
    return text, stamped(form, data, rows)


def stamped(form: Form, data: Data, rows: Keyboard | None) -> Keyboard | None:
    """The form's buttons among `rows` marked with the run of the form in `data` (other
    buttons, and any the mark would make too long for Telegram, as they are)."""
    run = data.get(RUN)
    if not rows or not run:
        return rows
    prefix = form.button.prefix() if form.button is not AnswerButton else None

    def mark(button: Button) -> Button:
        if prefix is None or button.data is None or not button.data.startswith(prefix + ":"):
            return button
        try:
            answer = form.button.unpack(button.data)
            packed = form.button(answer.question + RUN_MARK + str(run), answer.value).pack()
        except (StaleButton, ValueError):
            return button
        return Button(button.label, packed, button.url)

    return [[mark(button) for button in row] for row in rows]


async def ask(ctx: Context, form: Form, name: str, data: Data) -> None:
    """Sends the question of step `name` (after its `before` messages)."""
    step = form.step(name)
    if step.before is not None:
        for text, rows in step.before(ctx.t, await shown_data(ctx, step, data), form.button):
            ctx.reply(text, stamped(form, data, rows))
    ctx.reply(*await keyboard(ctx, form, step, data))


async def start(ctx: Context, form: Form, data: Data, first: str | None = None) -> None:
    """Starts the form at `first` (default: its first step) with `data`, and asks it."""
    data = {**data, RUN: data.get(RUN) or secrets.token_hex(2)}
    await go(ctx, form, first or form.order(data)[0], data)


async def start_in(
    ctx: Context, form: Form, chat_id: int, data: Data, first: str | None = None
) -> None:
    """Starts the form for this person in another chat (a group's button asks privately)."""
    data = {**data, RUN: data.get(RUN) or secrets.token_hex(2)}
    name = first or form.order(data)[0]
    await dialogs.save(ctx.session, ctx.user_id, chat_id, form.flow, name, dict(data), ctx.now())
    ctx.send(chat_id, *await keyboard(ctx, form, form.step(name), data))


async def start_privately(
    ctx: Context,
    form: Form,
    data: Data,
    first: str | None = None,
    *,
    done: str,
    alert: bool = False,
) -> None:
    """Starts the form in this person's private chat (a group's button asks privately) and
    asks its question there at once; then says `done`, or — if Telegram refuses the private
    message — how to start a private chat first (`Context.privately`)."""
    name = first or form.order(data)[0]
    user_id = ctx.user_id
    await dialogs.save(ctx.session, user_id, user_id, form.flow, name, dict(data), ctx.now())
    text, rows = await keyboard(ctx, form, form.step(name), data)

    async def _ask(messenger: Messenger) -> None:
        await messenger.send_message(user_id, text, rows)

    ctx.privately(_ask, done, alert=alert)


async def open_for(
    ctx: Context, form: Form, user_id: int, chat_id: int, data: Data, step: str
) -> None:
    """Opens the form for another person at `step` without asking (the caller tells them)."""
    await dialogs.save(ctx.session, user_id, chat_id, form.flow, step, dict(data), ctx.now())


async def go(ctx: Context, form: Form, name: str, data: Data) -> None:
    """Moves the dialog to step `name` with `data` (stored) and asks it; FINISH ends the form."""
    if name == FINISH:
        await form.finish(ctx, data)
        return
    step = form.step(name)
    if step.skip is not None and await step.skip(ctx, data):
        following = _following(form, step, data, None)
        if following not in (None, STAY, name):
            await go(ctx, form, following, data)
        return
    if name == form.preview and RETURN in data:
        data = {key: value for key, value in data.items() if key != RETURN}
    await ctx.set_dialog(form.flow, name, dict(data))
    await ask(ctx, form, name, data)


def _following(form: Form, step: Step, data: Data, value: Any) -> str | None:
    if step.then is not None:
        chosen = step.then(data, value)
        if chosen != NEXT:
            return chosen
    order = form.order(data)
    if step.name not in order:
        return order[0]
    rest = order[order.index(step.name) + 1 :]
    if RETURN in data:
        for name in rest:
            if name == data[RETURN] or not has(data, form.steps[name].data_key):
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
            ctx.edit(Html(step.shown(ctx.t, await shown_data(ctx, step, new), value)))
        else:
            ctx.edit_keyboard(None)
    following = _following(form, step, new, value)
    if following == STAY:
        await ctx.set_dialog(form.flow, step.name, new)
    elif following is not None:
        await go(ctx, form, following, new)


async def on_button(ctx: Context, form: Form, button: AnswerButton) -> None:
    """Takes an answer chosen with a button of `form`."""
    step, data = current(ctx, form)
    raw = button.value
    question, _, run = button.question.partition(RUN_MARK)
    if run and run != data.get(RUN, run):
        raise StaleButton(button.question)  # a button of an earlier run of the form
    if question == form.legacy_change and step.name == form.preview:
        raw = CHANGE + raw
    elif question != step.name and form.aliases.get(question) != step.name:
        raise StaleButton(button.question)
    if step.name == form.preview and raw.startswith(CHANGE):
        name = raw[len(CHANGE) :]
        if name not in form.changeable(data):
            raise StaleButton(raw)
        ctx.answer()
        ctx.edit_keyboard(None)
        await ctx.set_dialog(form.flow, name, {**data, RETURN: step.name})
        await ask(ctx, form, name, data)
        return
    if step.multi:
        await _multi(ctx, form, step, data, raw)
        return
    if step.read_button is None:
        raise StaleButton(raw)
    value = step.read_button(await pressed_data(ctx, step, data), raw)
    if value is None:
        raise StaleButton(raw)
    ctx.answer()
    await accept(ctx, form, step, data, value)


async def _multi(ctx: Context, form: Form, step: Step, data: Data, raw: str) -> None:
    chosen = list(get_in(data, step.data_key) or [])
    if raw == DONE:
        if step.required and not chosen:
            ctx.answer(ctx.t("forms.choose_one"), alert=True)
            return
        ctx.answer()
        await accept(ctx, form, step, data, chosen)
        return
    if step.read_button is not None:
        value = step.read_button(await pressed_data(ctx, step, data), raw)
    else:
        value = raw if raw in step.choices else None
    if value is None:
        raise StaleButton(raw)
    selected = set(chosen) ^ {value}
    ordered = (
        [choice for choice in step.choices if choice in selected]
        if step.choices
        else sorted(selected)
    )
    new = put_in(data, step.data_key, ordered)
    await ctx.set_dialog(form.flow, step.name, new)
    ctx.answer()
    ctx.edit_keyboard((await keyboard(ctx, form, step, new))[1])


async def on_text(ctx: Context, form: Form) -> None:
    """Takes a typed answer, or says what is wrong with it and asks again."""
    step, data = current(ctx, form)
    if ctx.event.media is not None:  # a sticker, a photo…: say what is needed, ask again
        # "type or use the buttons" only where both work (a question without buttons said
        # "use the buttons"; newcomer trial).
        has_buttons = bool((await keyboard(ctx, form, step, data))[1])
        hint = (
            "media.in_dialog"
            if has_buttons and step.read_text is not None
            else "media.in_dialog_buttons"
            if has_buttons
            else "media.in_dialog_type"
        )
        ctx.reply(ctx.t(hint, kind=media_words(ctx.t, ctx.event.media)))
        await ask(ctx, form, step.name, data)
        return
    if step.read_text is None:
        ctx.reply(ctx.t("invalid.use_buttons"))
        await ask(ctx, form, step.name, data)
        return
    try:
        value = step.read_text(ctx, data, ctx.event.text or "", form.button)
    except InvalidInput as problem:
        ctx.reply(problem.text(ctx.t), stamped(form, data, problem.keyboard))
        if problem.keyboard is None:
            await ask(ctx, form, step.name, data)
        return
    await accept(ctx, form, step, data, value)


async def resume(ctx: Context, form: Form) -> None:
    """Asks again the question the person stopped at."""
    step, data = current(ctx, form)
    await ask(ctx, form, step.name, data)


def route(form: Form, router: Router) -> None:
    """Routes the form's buttons (and its legacy prefixes) and typed answers to the engine."""

    async def pressed(ctx: Context, button: AnswerButton) -> None:
        """Takes an answer chosen with a button."""
        await on_button(ctx, form, button)

    async def typed(ctx: Context) -> None:
        """Takes a typed answer, or says what is wrong with it and asks again."""
        await on_text(ctx, form)

    buttons = () if form.button is AnswerButton else (form.button,)
    for kind in (*buttons, *form.legacy_buttons):
        router.button(kind)(pressed)
    router.dialog(form.flow)(typed)
