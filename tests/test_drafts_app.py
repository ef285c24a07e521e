"""Drafts in the app: filled from the timeline, edited, saved to the timeline and a file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import ClassVar

from pilot_wait import until
from textual.widgets import Input, OptionList, TextArea

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.session import Session


def app_for(timeline: Timeline, clock: FixedClock, incident: int | None = None) -> CockpitApp:
    name = "pulse-messages"
    chosen = timeline.incident(incident) if incident else timeline.open_incident("x", "P1", name)
    return CockpitApp(
        Session(timeline=timeline, incident=chosen, procedure=load_builtin(name), clock=clock),
        start_pollers=False,
    )


def saved(timeline: Timeline, incident: int) -> list[dict[str, object]]:
    return [dict(e.payload) for e in timeline.events(incident) if e.kind == "draft.saved"]


async def test_a_draft_is_filled_edited_saved_and_resumed(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock)
    incident = app.session.incident.id
    option = load_builtin("pulse-messages").options[0]
    timeline.record(incident, "trigger.fired", "Error rate > 5%: error_rate 9% breaches > 5%")
    timeline.record(incident, "wizard.decided", "Decided", {"options": [option.id]})
    async with app.run_test(size=(100, 30)) as pilot:
        # Written by another connection after the App was built: read back by the feed.
        await until(pilot, lambda: any(e.kind == "wizard.decided" for e in app.events), "feed")
        await pilot.press("m")
        assert type(app.screen).__name__ == "DraftsScreen"
        body = app.screen.query_one("#draft-body", TextArea)
        first = next(iter(load_builtin("pulse-messages").templates))
        filled = body.text
        template = load_builtin("pulse-messages").templates[first]
        if "reason" in template.placeholders():
            assert "Error rate > 5%" in filled
        assert "{" not in filled  # every placeholder was filled or marked as a gap
        body.focus()
        body.move_cursor(body.document.end)
        await pilot.press(*" Next update at 03:30.")
        await pilot.press("ctrl+s")
        records = saved(timeline, incident)
        assert len(records) == 1 and records[0]["template"] == first
        assert str(records[0]["body"]).endswith("Next update at 03:30.")
        path = records[0]["file"]
        assert isinstance(path, str)
        written = Path(path).read_text()
        assert written.endswith("Next update at 03:30.\n")
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600

        # An edit in another template is kept when switching away and when leaving.
        app.screen.query_one("#draft-list", OptionList).focus()
        await pilot.press("down")
        second = app.screen.current  # type: ignore[attr-defined]
        assert second != first
        app.screen.query_one("#draft-subject", Input).value = "Edited subject"
        await pilot.press("escape")
        assert type(app.screen).__name__ != "DraftsScreen"
    records = saved(timeline, incident)
    assert [r["template"] for r in records] == [first, second]
    assert records[1]["subject"] == "Edited subject"

    again = app_for(timeline, clock, incident)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        body = again.screen.query_one("#draft-body", TextArea)
        assert body.text.endswith("Next update at 03:30.")  # the saved draft, not a refill
        await pilot.press("ctrl+r")
        assert not body.text.endswith("Next update at 03:30.")


async def test_secrets_typed_into_a_draft_never_reach_the_file(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = app_for(timeline, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        body = app.screen.query_one("#draft-body", TextArea)
        body.load_text("Use Authorization: Bearer sk_live_abcdefghijklmnop1234 to check")
        await pilot.press("ctrl+s")
    (record,) = saved(timeline, app.session.incident.id)
    assert "sk_live_abcdefghijklmnop1234" not in Path(str(record["file"])).read_text()
    assert "sk_live_abcdefghijklmnop1234" not in str(record["body"])


async def test_send_queues_the_draft_for_the_templates_channel(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.core.actions import Delivered, Outgoing
    from providers.base import Notifier, ProviderOptions

    class Recording(Notifier):
        name, title, Options = "recording", "Recording", ProviderOptions
        got: ClassVar[list[Outgoing]] = []

        def health(self) -> str:
            return "ok"

        def send(self, message: Outgoing) -> Delivered:
            Recording.got.append(message)
            return Delivered("ok")

    incident = timeline.open_incident("x", "P1", "pulse-messages")
    app = CockpitApp(
        Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pulse-messages"),
            notifiers={"slack": Recording(ProviderOptions())},
            clock=clock,
        ),
        start_pollers=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")  # the first template is the Slack incident notification
        await pilot.press("ctrl+o")
        for _ in range(100):
            await pilot.pause(0.01)
            if Recording.got:
                break
        app.screen.query_one("#draft-list", OptionList).focus()
        await pilot.press("down", "ctrl+o")  # the customer email: no email notifier here
    kinds = [e.kind for e in timeline.events(incident.id)]
    assert kinds.count("outbox.queued") == 1 and "outbox.sent" in kinds
    (sent,) = Recording.got
    assert sent.channel == "slack" and sent.key == f"incident-{incident.id}"
    assert "INCIDENT" in sent.subject + sent.body
