"""The outbox: queued before any attempt, retried with backoff, rebuilt after a restart.

The core is tested on plain events; the App's driver with a notifier that fails on cue and a
fixed clock, so retries happen when the test says, not when the wall clock does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import pytest

from cockpit.app import CockpitApp
from cockpit.core.actions import Delivered, Outgoing, Undeliverable
from cockpit.core.clock import FixedClock
from cockpit.core.errors import ProviderUnavailable
from cockpit.core.outbox import BASE_SECONDS, MAX_SECONDS, Outbox, backoff
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from providers.base import Notifier, ProviderOptions


def message(channel: str = "slack", key: str = "incident-1") -> Outgoing:
    return Outgoing(channel, "Rollback started", "Rolling back to v1.2.3", key, "identified")


def test_backoff_doubles_up_to_a_ceiling_and_retry_after_wins() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [BASE_SECONDS, 2 * BASE_SECONDS, 4 * BASE_SECONDS]
    assert backoff(30) == MAX_SECONDS
    assert backoff(3, retry_after=1.5) == 1.5


@pytest.mark.parametrize("retry_at", [None, "soon", "2026-01-15T03:00:00", 42])
def test_a_failure_recorded_without_a_usable_retry_time_is_retried_after_one_backoff(
    clock: FixedClock, retry_at: object
) -> None:
    """An outbox.failed written by hand or by an older cockpit must not stop the export,
    the stats or a cockpit from folding the timeline."""
    kind, _, queued = Outbox.queue(Outgoing("slack", "s", "b", "k"))
    box = Outbox()
    box.apply(kind, queued, clock.now())
    failed: dict[str, object] = {"id": queued["id"], "attempt": "two", "reason": "503"}
    if retry_at is not None:
        failed["retry_at"] = retry_at
    box.apply("outbox.failed", failed, clock.now())
    (pending,) = box.pending.values()
    assert pending.attempts == 1 and pending.last_error == "503"
    assert pending.next_at == clock.now() + timedelta(seconds=BASE_SECONDS)


def test_pending_messages_are_rebuilt_from_events(clock: FixedClock) -> None:
    outbox = Outbox()
    kind, _, queued = Outbox.queue(message())
    outbox.apply(kind, queued, clock.now())
    pending = outbox.pending[queued["id"]]
    kind, _, failed = Outbox.failed(pending, "503", clock.now(), None)
    rebuilt = Outbox()
    rebuilt.replay([("outbox.queued", queued, clock.now()), (kind, failed, clock.now())])
    (again,) = rebuilt.pending.values()
    assert again.message == message() and again.attempts == 1
    assert rebuilt.due(clock.now()) == []
    assert rebuilt.due(clock.now() + timedelta(seconds=BASE_SECONDS)) == [again]
    kind, _, sent = Outbox.sent(again, Delivered("ok", reference="inc-9"))
    rebuilt.apply(kind, sent, clock.now())
    assert rebuilt.pending == {} and rebuilt.references[("slack", "incident-1")] == "inc-9"


class Flaky(Notifier):
    """Fails with `failures` retriable errors, then delivers; refuses what `refuse` names."""

    name = "flaky"
    title = "Flaky"
    Options = ProviderOptions
    failures = 0
    refuse: ClassVar[set[str]] = set()
    sent: ClassVar[list[Outgoing]] = []

    def health(self) -> str:
        return "ok"

    def send(self, outgoing: Outgoing) -> Delivered:
        if outgoing.subject in self.refuse:
            raise Undeliverable("invalid_payload")
        if Flaky.failures:
            Flaky.failures -= 1
            raise ProviderUnavailable("the Slack webhook: server error (503)")
        Flaky.sent.append(outgoing)
        return Delivered("ok", reference=f"ref-{len(Flaky.sent)}")


def app_for(timeline: Timeline, clock: FixedClock, incident: int | None = None) -> CockpitApp:
    chosen = (
        timeline.incident(incident) if incident else timeline.open_incident("x", "P1", "huntaze")
    )
    session = Session(
        timeline=timeline,
        incident=chosen,
        procedure=load_builtin("huntaze"),
        notifiers={"slack": Flaky(ProviderOptions())},
        clock=clock,
    )
    return CockpitApp(session, start_pollers=False)


def kinds(timeline: Timeline, incident: int) -> list[str]:
    return [e.kind for e in timeline.events(incident) if e.kind.startswith("outbox.")]


async def settle(app: CockpitApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Until every write is read back and no attempt is in flight (twice in a row: an attempt
    that ends writes its outcome, which must come back too)."""
    calm = 0
    for _ in range(1000):
        await pilot.pause(0.01)
        calm = calm + 1 if app.quiet and not app.outbox.in_flight else 0
        if calm >= 2:
            return


async def test_a_failing_platform_is_retried_until_it_recovers_and_nothing_is_lost_on_restart(
    timeline: Timeline, clock: FixedClock
) -> None:
    Flaky.failures, Flaky.sent = 2, []
    app = app_for(timeline, clock)
    incident = app.session.incident.id
    async with app.run_test() as pilot:
        app.queue_message(message())
        await settle(app, pilot)
        assert kinds(timeline, incident) == ["outbox.queued", "outbox.failed"]
        app.tick()  # not due yet: nothing is attempted before the backoff
        await settle(app, pilot)
        assert kinds(timeline, incident) == ["outbox.queued", "outbox.failed"]
    # the cockpit goes away with the message still pending
    again = app_for(timeline, clock, incident)
    async with again.run_test() as pilot:
        assert len(again.outbox.outbox.pending) == 1
        clock.advance(BASE_SECONDS)
        again.tick()
        await settle(again, pilot)
        clock.advance(2 * BASE_SECONDS)
        again.tick()
        await settle(again, pilot)
    assert kinds(timeline, incident) == [
        "outbox.queued",
        "outbox.failed",
        "outbox.failed",
        "outbox.sent",
    ]
    assert Flaky.sent == [message()]
    failed = [e for e in timeline.events(incident) if e.kind == "outbox.failed"]
    assert [e.payload["attempt"] for e in failed] == [1, 2]
    assert "503" in failed[0].summary and "retrying at" in failed[0].summary


async def test_a_permanent_refusal_is_not_retried_and_an_unknown_channel_waits(
    timeline: Timeline, clock: FixedClock
) -> None:
    Flaky.failures, Flaky.sent, Flaky.refuse = 0, [], {"Bad"}
    app = app_for(timeline, clock)
    incident = app.session.incident.id
    async with app.run_test() as pilot:
        app.queue_message(Outgoing("slack", "Bad", "x", "k"))
        app.queue_message(message(channel="pagerduty"))
        await settle(app, pilot)
        clock.advance(MAX_SECONDS)
        app.tick()
        await settle(app, pilot)
    Flaky.refuse = set()
    events = [e for e in timeline.events(incident) if e.kind.startswith("outbox.")]
    refused = [e for e in events if e.kind == "outbox.refused"]
    assert len(refused) == 1 and "invalid_payload" in refused[0].summary
    waiting = [e for e in events if e.kind == "outbox.failed"]
    assert waiting and all("no notifier named 'pagerduty'" in e.summary for e in waiting)
    assert len(app.outbox.outbox.pending) == 1  # the pagerduty message is kept, not dropped


# -- against the platforms' simulators, over HTTP ---------------------------------------------


async def test_slack_down_then_back_the_message_goes_out_once(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.simulators.slack import SlackSimulator
    from providers.slack import SlackNotifier

    with SlackSimulator() as slack:
        secret_url = slack.webhook_url
        notifier = SlackNotifier(
            SlackNotifier.Options.model_validate(
                {"webhook_url": slack.webhook_url, "timeout_seconds": 1.0}
            )
        )
        incident = timeline.open_incident("x", "P1", "huntaze")
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("huntaze"),
            notifiers={"slack": notifier},
            clock=clock,
        )
        app = CockpitApp(session, start_pollers=False)
        slack.fail("status", status=503, times=2)  # Slack is down for two attempts
        async with app.run_test() as pilot:
            app.queue_message(message())
            await settle(app, pilot)
            for wait in (BASE_SECONDS, 2 * BASE_SECONDS):
                clock.advance(wait)
                app.tick()
                await settle(app, pilot)
        notifier.close()
        assert [m.get("text") for m in slack.messages] == [
            "*Rollback started*\nRolling back to v1.2.3"
        ]
    recorded = kinds(timeline, incident.id)
    assert recorded == ["outbox.queued", "outbox.failed", "outbox.failed", "outbox.sent"]
    assert secret_url not in str([(e.summary, e.payload) for e in timeline.events(incident.id)])


async def test_a_status_page_incident_is_created_then_updated_through_the_outbox(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.simulators.statuspage import StatuspageSimulator
    from providers.statuspage import StatuspageNotifier

    with StatuspageSimulator() as page:
        notifier = StatuspageNotifier(
            StatuspageNotifier.Options.model_validate(
                {"base_url": f"{page.url}/v1", "api_key": page.token, "page_id": page.page_id}
            )
        )
        incident = timeline.open_incident("x", "P1", "pitchey")
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pitchey"),
            notifiers={"statuspage": notifier},
            clock=clock,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test() as pilot:
            first = Outgoing(
                "statuspage", "Errors on pitches", "Investigating", "inc-1", "investigating"
            )
            app.queue_message(first)
            await settle(app, pilot)
            later = Outgoing("statuspage", "Errors on pitches", "Rolled back", "inc-1", "resolved")
            app.queue_message(later)
            await settle(app, pilot)
        notifier.close()
        (created,) = page.incidents.values()
        assert created["status"] == "resolved"
        assert len(created["incident_updates"]) == 2


async def test_a_firing_trigger_pages_the_acknowledgement_and_the_closing_update_the_same_alert(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.core.metrics import Sample
    from cockpit.messages import MetricsSampled
    from cockpit.simulators.pagerduty import PagerDutySimulator
    from providers.pagerduty import PagerDutyNotifier

    with PagerDutySimulator() as pd:
        notifier = PagerDutyNotifier(
            PagerDutyNotifier.Options.model_validate(
                {"base_url": pd.url, "routing_key": pd.routing_key}
            )
        )
        incident = timeline.open_incident("Checkout errors", "P1", "pulse-messages")
        session = Session(
            timeline=timeline,
            incident=incident,
            # Without its automatic rollback, which pages too (tests/test_auto_rollback.py).
            procedure=load_builtin("pulse-messages").model_copy(update={"automatic": []}),
            notifiers={"pagerduty": notifier},
            clock=clock,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test() as pilot:
            for _ in range(6):  # error rate > 5 % for 5 consecutive samples fires
                clock.advance(60)
                app.post_message(MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")]))
                await pilot.pause()
            await settle(app, pilot)
            await pilot.press("a", "enter")
            await settle(app, pilot)
            (alert,) = pd.alerts.values()
            assert alert.status == "acknowledged"
            await pilot.press("e", "ctrl+t", *"rolled back", "enter")  # closed: resolved
            await settle(app, pilot)
        notifier.close()
        (alert,) = pd.alerts.values()
        assert alert.status == "resolved"
        assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve"]
        assert pd.events[0]["payload"]["severity"] == "critical"  # P1
    assert kinds(timeline, incident.id).count("outbox.sent") == 3
