"""The form engine, through the forms declared with it: transcript, required answers, preview
changes, the consent double-check, stored (never in-place) data, and the state diagrams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app import Storage
from handlers.actions import action_dialog, action_list
from handlers.coalition import membership
from handlers.decisions import consensus
from handlers.kernel import forms
from handlers.kernel.ports import ShiftedClock
from handlers.people import profile, registration, reports
from storage.models import DialogState, Volunteer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import in_days
from tests.support.actions import make_volunteer
from tests.support.recording import Conversation, Someone

HANDLERS = Path(registration.__file__).parents[1]
FORMS = [
    registration.FORM,
    profile.FORM,
    action_dialog.FORM,
    action_list.EDIT_FORM,
    consensus.FORM,
    membership.REVIEW_FORM,
    membership.ANSWER_FORM,
    reports.FORM,
    reports.ANSWER_FORM,
]


async def _until_skills(person: Someone) -> None:
    await person.send("/start")
    await person.press("English")
    await person.press("An individual")
    await person.send("Rima")
    await person.send("Lebanon")


async def _until_summary(person: Someone) -> None:
    await _until_skills(person)
    await person.press("Media")
    await person.press("Done ✔")
    await person.press("5")
    await person.press("Done ✔")
    await person.press("Done ✔")
    await person.press("No")
    await person.press("I accept the pledge")
    await person.press("I agree")
    assert "Please check your answers" in person.last.text


async def _dialog(storage: Storage, person: Someone) -> DialogState | None:
    async with storage.sessionmaker() as session:
        return await session.get(DialogState, (person.person.id, person.person.id))


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.flow)
def test_each_state_diagram_names_every_step_of_its_form(form: forms.Form) -> None:
    diagram = next(HANDLERS.rglob(form.diagram or f"{form.flow}.mmd")).read_text(encoding="utf-8")
    named = set(re.findall(r"\b([a-z_]+)\b", diagram))
    assert set(form.steps) - named == set()


async def test_an_answered_question_shows_the_answer(conversation: Conversation) -> None:
    rima = conversation.person("Rima")
    await _until_skills(rima)
    question = rima.last
    await rima.press("Media")
    await rima.press("Translation")
    assert "✅ Media" in question.labels
    await rima.press("Done ✔")
    assert question.text == "<b>Skills</b>: Media, Translation"
    assert question.keyboard == []
    assert "<b>Joining as</b>: An individual" in [m.text for m in rima.messages]


async def test_ticks_across_updates_are_all_stored(
    conversation: Conversation, storage: Storage
) -> None:
    rima = conversation.person("Rima")
    await _until_skills(rima)
    for label in ("Events", "Translation", "Legal"):
        await rima.press(label)
    state = await _dialog(storage, rima)
    assert state is not None and state.data["skills"] == ["translation", "legal", "events"]
    await rima.press("Legal")
    state = await _dialog(storage, rima)
    assert state is not None and state.data["skills"] == ["translation", "events"]


async def test_done_with_nothing_chosen_is_refused_where_an_answer_is_required(
    conversation: Conversation, storage: Storage
) -> None:
    rima = conversation.person("Rima")
    await _until_skills(rima)
    text, alert = await rima.press("Done ✔")
    assert alert and text == "Choose at least one, then press Done."
    assert "Which skills" in rima.last.text
    state = await _dialog(storage, rima)
    assert state is not None and state.step == "skills"
    await rima.press("Media")
    await rima.press("Done ✔")
    await rima.press("5")
    text, alert = await rima.press("Done ✔")  # resources: none is a fine answer
    assert not alert and "Which themes" in rima.last.text


async def test_done_with_nothing_is_refused_in_french(conversation: Conversation) -> None:
    marie = conversation.person("Marie", language_code="fr")
    await marie.send("/start")
    await marie.press("Français")
    await marie.press("À titre individuel")
    await marie.send("Marie")
    await marie.send("France")
    text, alert = await marie.press("Terminé ✔")
    assert alert and text is not None and "au moins une" in text


async def test_refusing_consent_asks_first_and_keeps_the_answers(
    conversation: Conversation, storage: Storage
) -> None:
    rima = conversation.person("Rima")
    await _until_summary(rima)
    await rima.press("↺ Start over")
    await rima.press("English")
    await rima.press("An individual")
    await rima.send("Rima")
    await rima.send("Lebanon")
    await rima.press("Legal")
    await rima.press("Done ✔")
    await rima.press("5")
    await rima.press("Done ✔")
    await rima.press("Done ✔")
    await rima.press("No")
    await rima.press("I accept the pledge")
    await rima.press("No")
    assert "Are you sure?" in rima.last.text
    state = await _dialog(storage, rima)
    assert state is not None and state.data["skills"] == ["legal"]
    await rima.press("↩ Back to the question")
    assert "Do you agree that we store it?" in rima.last.text
    await rima.press("I agree")
    await rima.press("✅ Confirm")
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, rima.person.id)
        assert volunteer is not None and volunteer.skills == ["legal"]


async def test_the_summary_changes_one_answer_and_comes_back(
    conversation: Conversation, storage: Storage
) -> None:
    rima = conversation.person("Rima")
    await _until_summary(rima)
    await rima.press("✏️ Country")
    assert "Which country" in rima.last.text
    await rima.send("France")
    assert "Please check your answers" in rima.last.text
    assert "<b>Country</b>: France" in rima.last.text
    await rima.press("✏️ Joining as")
    await rima.press("An organisation")
    assert "name of your organisation" in rima.last.text  # a question the change makes necessary
    await rima.send("Rima Collective")
    await rima.press("NGO")
    assert "Please check your answers" in rima.last.text
    await rima.press("✅ Confirm")
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, rima.person.id)
        assert volunteer is not None
        assert (volunteer.country, volunteer.timezone, volunteer.kind) == (
            "FR",
            "Europe/Paris",
            "organisation",
        )
        assert volunteer.org_name == "Rima Collective" and volunteer.skills == ["media"]


async def test_buttons_sent_before_the_engine_still_work(conversation: Conversation) -> None:
    rima = conversation.person("Rima")
    await _until_summary(rima)
    _, alert = await rima.press_data(rima.last.message_id, "rg:confirm:yes")
    assert not alert
    assert "you are now part of the network" in rima.last.text


async def test_a_profile_field_is_changed_with_the_same_engine(
    conversation: Conversation, storage: Storage
) -> None:
    rima = conversation.person("Rima")
    await _until_summary(rima)
    await rima.press("✅ Confirm")
    await rima.send("/profile")
    await rima.press("Skills")
    question = rima.last
    assert "✅ Media" in question.labels and "/cancel" in question.text
    await rima.press("Media")
    text, alert = await rima.press("Done ✔")
    assert alert and text == "Choose at least one, then press Done."
    await rima.press("Legal")
    await rima.press("Done ✔")
    assert question.text.startswith("<b>Skills</b>: Legal")
    assert "Saved." in rima.messages[-2].text
    await rima.press("Country")
    await rima.send("United States")
    assert "several time zones" in rima.last.text
    await rima.send("Chicago")
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, rima.person.id)
        assert volunteer is not None
        assert (volunteer.skills, volunteer.country, volunteer.timezone) == (
            ["legal"],
            "US",
            "America/Chicago",
        )
        assert await session.get(DialogState, (rima.person.id, rima.person.id)) is None


async def _until_audience(coral: Someone, clock: ShiftedClock) -> None:
    await coral.send("/newaction")
    await coral.press("Meeting")
    await coral.send("Vigil")
    await coral.send("Bring candles.")
    await coral.press("No link")
    await coral.send(in_days(clock, 3))
    await coral.send("Beirut")
    await coral.press("Online")
    await coral.press("No limit")
    assert "Who receives it?" in coral.last.text


async def test_newaction_filters_stick_and_show_their_answers(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", skills=["events"])
    await make_volunteer(storage, 2, now=clock.now(), name="Omar", skills=["translation"])
    await make_volunteer(storage, 3, now=clock.now(), name="Lina", skills=["legal"])
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    await _until_audience(coral, clock)
    assert "<b>Kind</b>: 🤝 Meeting" in [m.text for m in coral.messages]
    await coral.press("Skills")
    question = coral.last
    await coral.press("Events")
    await coral.press("Translation")
    await coral.press("Done ✔")
    assert question.text == "<b>Skills</b>: Translation, Events" and question.keyboard == []
    assert "Skills: Translation, Events" in coral.last.text
    assert "<b>2</b>" in coral.last.text or "2 volunteers" in coral.last.text
    await coral.press("Countries")
    await coral.send("Lebanon, France")
    await coral.press("Done ✔")
    assert "Countries: France, Lebanon" in coral.last.text
    state = await _dialog(storage, coral)
    assert state is not None
    assert state.data["audience"] == {
        "skills": ["translation", "events"],
        "countries": ["FR", "LB"],
    }


async def test_newaction_preview_changes_a_field_and_comes_back(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    await _until_audience(coral, clock)
    await coral.press("Done ✔")
    assert "It will go to" in coral.last.text
    await coral.press("✏️ Title")
    await coral.send("Vigil at dawn")
    assert "It will go to" in coral.last.text and "Vigil at dawn" in coral.messages[-2].text
    await coral.press("✏️ Date and time")
    await coral.send(in_days(clock, 5))
    assert "time zone" in coral.last.text  # a new date asks its zone again
    await coral.send("Europe/Paris")
    assert "It will go to" in coral.last.text
    await coral.press("✅ Send it")
    async with storage.sessionmaker() as session:
        from storage.actions.action_models import Action

        action = await session.get(Action, 1)
        assert action is not None and action.title == "Vigil at dawn"
        assert action.timezone == "Europe/Paris"
