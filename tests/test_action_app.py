"""The demo's bad deploy rolled back from the action screen through real providers.

The simulated production goes bad; the responder opens the rollback options, picks Vercel
instant rollback, types the wrong name (refused, recorded, nothing changes), then the right one;
the real Vercel provider rolls back the simulated project over HTTP, verifies the job, and the
scenario recovers. Everything lands in the timeline, with the CLI-equivalent line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.demo.platforms import Platforms, start_platforms
from cockpit.demo.scenario import GOOD_VERSION, Scenario
from cockpit.demo.service import DemoService
from cockpit.session import Session

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def demo() -> Iterator[tuple[Scenario, Platforms, FixedClock]]:
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    with DemoService(scenario) as service:
        platforms = start_platforms(  # the demo's flags and Vercel: no git, no database
            scenario,
            job_seconds=0.0,
            health_url=f"{service.base_url}/health",
            only={"feature_flags", "vercel"},
        )
        clock.advance(5)  # the bad deploy is live
        yield scenario, platforms, clock
        platforms.stop()


async def choose(pilot: Any, app: Any, option_id: str) -> None:
    """Open the rollback options (r) and start the one named, wherever the list has it."""
    from textual.widgets import OptionList

    await pilot.press("r")
    await pilot.pause()
    options = app.screen.query_one("#rollback-options", OptionList)
    options.highlighted = options.get_option_index(option_id)
    await pilot.press("enter")


def app_for(timeline: Timeline, clock: FixedClock, platforms: Platforms) -> CockpitApp:
    incident = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        actions=platforms.providers,
        clock=clock,
    )
    return CockpitApp(session, start_pollers=False)


async def until(pilot: Pilot[int], condition: Callable[[], object], what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


def kinds(timeline: Timeline) -> list[str]:
    return [e.kind for e in timeline.events(timeline.incidents()[0].id)]


async def test_the_demo_rolls_back_through_vercel_from_the_action_screen(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    scenario, platforms, clock = demo
    assert scenario.error_ratio() > 0.05
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("r")
        assert type(app.screen).__name__ == "RollbackScreen"
        await pilot.press("down", "enter")  # L2 Vercel Instant Rollback
        screen = app.screen
        assert type(screen).__name__ == "ActionScreen"
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        plan = screen.plan  # type: ignore[attr-defined]
        assert plan.destructive and plan.target == "pulse-messages"

        await pilot.press(*"pulse", "enter")  # the wrong name: refused, nothing runs
        assert "plan.refused" in kinds(timeline)
        assert scenario.rolled_back_at is None and "action.intent" not in kinds(timeline)

        await pilot.press(*"pulse-messages", "enter")
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded", screen.result.summary  # type: ignore[attr-defined]
    assert scenario.rolled_back_at is not None and scenario.version() == GOOD_VERSION
    clock.advance(scenario.recovery_seconds + 1)
    assert scenario.error_ratio() < 0.01  # the demo's metrics recover
    events = timeline.events(timeline.incidents()[0].id)
    intent = next(e for e in events if e.kind == "action.intent")
    result = next(e for e in events if e.kind == "action.result")
    assert intent.command and intent.command.startswith("vercel rollback")
    assert intent.payload["option"] == "vercel-instant"
    assert result.payload["outcome"] == "succeeded" and result.payload["verified"] is True


async def test_a_provider_that_is_not_configured_says_so_and_shows_the_commands(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    """It opens to be done by hand (tests/test_manual_app.py); opening records nothing."""
    _, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("r", "down", "down", "down", "enter")  # L4 database: no PostgreSQL
        await until(pilot, lambda: type(app.screen).__name__ == "ManualScreen", "by hand")
        head = str(app.screen.query_one("#manual-head").render())
        assert "The 'postgres' provider is not configured in this session" in head
        assert "[providers.postgres] in cockpit.toml" in head
        commands = str(app.screen.query_one("#manual-commands").render())
        assert "npm run migrate:rollback" in commands
    assert "action.intent" not in kinds(timeline)


async def test_a_failing_preflight_is_shown_and_recorded(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    _, platforms, clock = demo
    flags_sim = next(s for s in platforms.simulators if s.name == "admin-api")
    flags_sim.fail("status", status=503, times=10)
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("r", "enter")  # L1 feature flags
        await until(pilot, lambda: "plan.failed" in kinds(timeline), "the recorded failure")
        text = str(app.screen.query_one("#action-plan").render())
        assert "503" in text
    assert "action.intent" not in kinds(timeline)


async def test_a_parameter_the_procedure_leaves_open_is_picked_from_the_provider(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    scenario, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose(pilot, app, "blue-green")  # L5 blue-green switch
        screen = app.screen
        assert screen.asking == "deployment"  # type: ignore[attr-defined]
        await until(pilot, lambda: screen.query("#action-choices"), "the candidates")
        picker = screen.query_one("#action-choices")
        labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]  # type: ignore[attr-defined]
        blue = next(i for i, label in enumerate(labels) if "v1-2-3" in label)
        assert "serving" in next(label for label in labels if "v1-2-4" in label)
        picker.highlighted = blue  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        plan = screen.plan  # type: ignore[attr-defined]
        assert plan.action == "alias_set" and plan.target == "app.pulsemessages.com"
        assert any("v1-2-4" in change and "v1-2-3" in change for change in plan.changes)
        await pilot.press(*plan.target, "enter")
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded", screen.result.summary  # type: ignore[attr-defined]
    assert scenario.rolled_back_at is not None


async def test_the_ai_saas_demo_rolls_back_its_kubernetes_deployment(timeline: Timeline) -> None:
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    platforms = start_platforms(scenario, procedure="ai-saas", job_seconds=0.2)
    clock.advance(5)
    try:
        incident = timeline.open_incident("demo", "P1", "ai-saas", drill=True)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("ai-saas"),
            actions=platforms.providers,
            clock=clock,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("r", "down", "down", "enter")  # Option C: Kubernetes
            screen = app.screen
            await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
            plan = screen.plan  # type: ignore[attr-defined]
            assert plan.target == "ai-saas-web" and "beta.3" in plan.changes[0]
            assert plan.cli.startswith("kubectl --context demo -n ai-saas-prod rollout undo")
            await pilot.press(*plan.target, "enter")
            for _ in range(300):  # the rollout takes 0.2 s of the simulator's time
                if screen.result is not None:  # type: ignore[attr-defined]
                    break
                await pilot.pause(0.02)
            assert screen.result.outcome == "succeeded", screen.result.summary  # type: ignore[attr-defined]
            await pilot.press("d")  # d leaves the pushed screens for the dashboard
            assert type(app.screen).__name__ == "DashboardScreen"
        assert scenario.rolled_back_at is not None
        simulator = next(s for s in platforms.simulators if s.name == "kubernetes")
        image = simulator.deployment("ai-saas-web", "ai-saas-prod")["spec"]["template"]["spec"]  # type: ignore[attr-defined]
        assert image["containers"][0]["image"].endswith("beta.2")
    finally:
        platforms.stop()


async def test_a_checklist_items_own_check_runs_and_ticks_it(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    from cockpit.screens.checklists import ChecklistsScreen

    scenario, platforms, clock = demo
    scenario.rollback()
    clock.advance(scenario.recovery_seconds + 1)  # healthy again: the health check can pass
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        app.push_screen(ChecklistsScreen("verification"))
        await until(
            pilot,
            lambda: app.focused is not None and app.focused.id == "items-verification",
            "the verification list, focused",
        )
        await pilot.press("enter")  # "Application health: curl …/health" has a check to run
        screen = app.screen
        assert type(screen).__name__ == "ActionScreen"
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        assert screen.plan.action == "health_check" and not screen.plan.destructive  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded", screen.result.summary  # type: ignore[attr-defined]
    ticked = [
        e for e in timeline.events(timeline.incidents()[0].id) if e.kind == "checklist.auto_ticked"
    ]
    assert [(e.payload["list"], e.payload["item"]) for e in ticked] == [
        ("verification", "app-health")
    ]


async def test_typing_a_name_where_asked_fires_no_key_of_the_app(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    """The prompt says "type it below": every letter typed is part of the name. Before, the
    list took the focus, and typing a deployment name acknowledged the incident (a page)."""
    _, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose(pilot, app, "blue-green")  # L5 blue-green switch
        screen = app.screen
        assert screen.asking == "deployment"  # type: ignore[attr-defined]
        typed = "dpw-qrtacemon-?"  # every single-letter key of the App, and then some
        await pilot.press(*typed)  # typed while the candidates load, and after
        await until(pilot, lambda: screen.query("#action-choices"), "the candidates")
        await pilot.press(*"xyz")
        assert app.screen is screen, "no screen switched"
        field = screen.query_one("#action-confirm")
        assert field.value == typed + "xyz"  # type: ignore[attr-defined]
        assert field.has_focus
        await pilot.pause(0.2)
        assert "incident.acknowledged" not in kinds(timeline)
        assert not [k for k in kinds(timeline) if k.startswith("outbox.")]
        # The list opens on the deployment the procedure means: the last good one, not the
        # one serving now.
        picker = screen.query_one("#action-choices")
        first = str(picker.get_option_at_index(picker.highlighted).prompt)  # type: ignore[attr-defined]
        assert "v1-2-3" in first and "serving" not in first


async def test_a_refused_pick_keeps_the_list_and_says_why(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    _, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose(pilot, app, "blue-green")  # L5 blue-green switch
        screen = app.screen
        await until(pilot, lambda: screen.query("#action-choices"), "the candidates")
        picker = screen.query_one("#action-choices")
        for _ in range(picker.option_count):  # type: ignore[attr-defined]
            await pilot.press("down")  # ↓ moves the list while the field keeps the focus
        last = str(picker.get_option_at_index(picker.highlighted).prompt)  # type: ignore[attr-defined]
        assert "serving now" in last
        await pilot.press("enter")  # the one serving now: refused by the provider
        await until(
            pilot,
            lambda: "Refused" in str(screen.query_one("#action-plan").render()),
            "the refusal",
        )
        assert screen.asking == "deployment"  # type: ignore[attr-defined]
        assert screen.query("#action-choices"), "the list is still there"
        assert screen.plan is None  # type: ignore[attr-defined]
        await pilot.press("enter")  # the first again: the last good one
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        assert any("v1-2-3" in c for c in screen.plan.changes)  # type: ignore[attr-defined]
    assert "plan.failed" in kinds(timeline)


async def test_an_option_the_procedure_marks_destructive_needs_its_name_typed(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    """The procedure may make an action stricter than its provider's plan, never looser."""
    _, platforms, clock = demo
    procedure = load_builtin("pulse-messages")
    options = [
        option.model_copy(update={"destructive": True}) if option.id == "feature-flags" else option
        for option in procedure.options
    ]
    session = Session(
        timeline=timeline,
        incident=timeline.open_incident("demo", "P1", "pulse-messages", drill=True),
        procedure=procedure.model_copy(update={"options": options}),
        actions=platforms.providers,
        clock=clock,
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("r", "enter")  # L1 feature flags: the provider says not destructive
        screen = app.screen
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        plan = screen.plan  # type: ignore[attr-defined]
        assert plan.destructive and any("procedure marks" in w for w in plan.warnings)
        await pilot.press("enter")  # a single Enter no longer runs it
        await until(pilot, lambda: "plan.refused" in kinds(timeline), "the refusal")
        assert "action.intent" not in kinds(timeline)
        await pilot.press(*plan.target, "enter")
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
    assert "action.intent" in kinds(timeline)


async def test_an_option_whose_platform_is_still_starting_says_so_then_runs(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    """A drill starts its platforms after its metrics: an option opened in those seconds is
    not sent to be done by hand as if unconfigured; once they are up it plans."""
    import threading

    from cockpit.session import StartedSources

    _, platforms, clock = demo
    release = threading.Event()

    def later() -> StartedSources:
        release.wait(20)
        return StartedSources([], actions=dict(platforms.providers))

    incident = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        clock=clock,
        start_sources=lambda: StartedSources([], more=later),
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.still_starting, "the platforms are starting")
        await pilot.press("r", "down", "enter")  # L2 Vercel instant rollback
        screen = app.screen
        assert type(screen).__name__ == "ActionScreen"
        shown = str(screen.query_one("#action-plan").render())
        assert "'vercel' platform is still starting" in shown
        await pilot.press("escape")
        release.set()
        await until(pilot, lambda: not app.still_starting, "the platforms are up")
        await pilot.press("r", "down", "enter")
        screen = app.screen
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
    assert "action.intent" not in kinds(timeline)


# --- Issue 16: the screen says where it is, and no state text outlives its state ----------------


def gated(monkeypatch: pytest.MonkeyPatch, provider: object, method: str) -> threading.Event:
    """Hold a provider's method until the test releases it: the state it leaves the screen in
    while it works is the one asserted on (no wall-clock wait stands in for it)."""
    gate = threading.Event()
    real = getattr(provider, method)

    def held(*args: object, **kwargs: object) -> object:
        gate.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(provider, method, held)
    return gate


def said(screen: object) -> dict[str, str]:
    """Every text on the action screen that tells a state: the steps line, the plan area,
    the result line and the field's placeholder."""
    query_one = screen.query_one  # type: ignore[attr-defined]
    steps = screen.query("#action-stage")  # type: ignore[attr-defined]
    return {
        "steps": str(steps.first().render()) if steps else "",
        "plan": str(query_one("#action-plan").render()),
        "result": str(query_one("#action-result").render()),
        "field": str(query_one("#action-confirm").placeholder),
    }


def on_screen(app: CockpitApp) -> str:
    """What the terminal shows now, line by line."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def test_the_screen_shows_where_it_is_in_the_five_steps(
    timeline: Timeline,
    demo: tuple[Scenario, Platforms, FixedClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's five steps, Preflight → Plan → Confirm → Execute → Record, in one line
    that follows the screen; the preflight was never shown as a step."""
    _, platforms, clock = demo
    vercel = platforms.providers["vercel"]
    checking = gated(monkeypatch, vercel, "preflight")
    running = gated(monkeypatch, vercel, "execute")
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose(pilot, app, "blue-green")  # L5 blue-green switch
        screen = app.screen

        def steps() -> str:
            return said(screen)["steps"]

        assert steps() == "Preflight: needs deployment · Plan · Confirm · Execute · Record"
        await until(pilot, lambda: screen.query("#action-choices"), "the candidates")
        await pilot.press("enter")  # the first candidate: the last good deployment
        await until(pilot, lambda: screen.asking is None, "the preflight")  # type: ignore[attr-defined]
        assert steps() == "Preflight: checking… · Plan · Confirm · Execute · Record"
        checking.set()
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.pause()
        assert steps() == "Preflight ✓ · Plan ✓ · Confirm ▶ · Execute · Record"
        await pilot.press(*screen.plan.target, "enter")  # type: ignore[attr-defined]
        await until(pilot, lambda: "action.intent" in kinds(timeline), "the intent")
        await pilot.pause()
        assert steps() == "Preflight ✓ · Plan ✓ · Confirm ✓ · Execute: running… · Record"
        running.set()
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        await pilot.pause()
        assert steps() == "Preflight ✓ · Plan ✓ · Confirm ✓ · Execute ✓ · Record ✓"


async def test_no_state_text_outlives_its_state(
    timeline: Timeline,
    demo: tuple[Scenario, Platforms, FixedClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading, choosing from a list, checking: each said while, and only while, it holds
    (the field offered a list while none had loaded, or none came, and still asked for the
    deployment while the preflight checked it)."""
    _, platforms, clock = demo
    vercel = platforms.providers["vercel"]
    listing = gated(monkeypatch, vercel, "choices")
    checking = gated(monkeypatch, vercel, "preflight")
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose(pilot, app, "blue-green")  # L5 blue-green switch
        screen = app.screen
        now = said(screen)
        assert "Loading the candidates" in now["plan"]
        assert "choose" not in now["field"] and "↑/↓" not in now["field"], "no list yet"

        listing.set()
        await until(pilot, lambda: screen.query("#action-choices"), "the candidates")
        now = said(screen)
        assert not [k for k, text in now.items() if "loading" in text.lower()], now
        assert "↑/↓ to choose one above" in now["field"]

        await pilot.press("enter")  # the first candidate: the last good deployment
        await until(pilot, lambda: screen.asking is None, "the preflight")  # type: ignore[attr-defined]
        now = said(screen)
        assert "checking" in now["plan"]
        assert "deployment" not in now["field"] and "choose" not in now["field"], now

        checking.set()
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.pause()
        now = said(screen)
        assert not [k for k, text in now.items() if "checking" in text], now

        await pilot.press("escape")  # again, and this time the provider lists nothing
        monkeypatch.setattr(vercel, "choices", lambda *args: [])
        await choose(pilot, app, "blue-green")
        screen = app.screen
        await until(pilot, lambda: "loading" not in said(screen)["plan"].lower(), "no list")
        now = said(screen)
        assert not [k for k, text in now.items() if "choose one" in text or "↑/↓" in text], now
        assert now["field"] == "type the deployment, then Enter"


async def test_once_the_result_is_in_the_field_says_what_is_next(
    timeline: Timeline, demo: tuple[Scenario, Platforms, FixedClock]
) -> None:
    """After Done the field said "running… (x cancels at the next safe point)"."""
    _, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r", "down", "enter")  # L2 Vercel instant rollback
        screen = app.screen
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.press(*screen.plan.target, "enter")  # type: ignore[attr-defined]
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        await pilot.pause()
        field = screen.query_one("#action-confirm")
        assert screen.result.outcome == "succeeded"  # type: ignore[attr-defined]
        assert field.placeholder == (  # type: ignore[attr-defined]
            "done · u: undo it (a new plan, confirmed like any other) · Esc: back"
        )
        assert field.disabled, "nothing more to type"
        assert "running" not in on_screen(app) and "x cancel" not in on_screen(app)
        await pilot.press("u")  # what the field says u does, it does
        await until(pilot, lambda: app.screen is not screen, "the undo's plan")
        undo = app.screen
        await until(pilot, lambda: undo.plan is not None, "the undo planned")  # type: ignore[attr-defined]
        assert undo.plan.action == "promote"  # type: ignore[attr-defined]


def test_the_plan_s_undo_is_in_words_and_plain() -> None:
    """It printed a Python dict: "Undo: rollout_undo {'deployment': 'ai-saas-web', ...}"."""
    from cockpit.core.actions import Plan
    from cockpit.screens.action_parts import render_plan

    plan = Plan(
        "kubernetes",
        "rollout_undo",
        "ai-saas-web",
        "Roll back deployment/ai-saas-web",
        [],
        [],
        "kubectl rollout undo deployment/ai-saas-web",
        undo={
            "action": "rollout_undo",
            "params": {"deployment": "ai-saas-web", "namespace": "ai-saas-prod"},
        },
    )
    shown = render_plan(plan).plain.splitlines()
    assert "Undo: rollout_undo deployment=ai-saas-web namespace=ai-saas-prod" in shown
    flags = Plan(
        "feature_flags",
        "disable_flags",
        "app",
        "Disable [b]new-pricing[/b]",
        [],
        [],
        "curl …",
        undo={"action": "set_flags", "params": {"states": {"[/]": True, "new pricing": False}}},
    )
    shown = render_plan(flags).plain.splitlines()
    assert "Undo: set_flags states=([/]=true, new pricing=false)" in shown, "plain, not markup"


async def test_a_plan_longer_than_its_area_says_more_is_below(timeline: Timeline) -> None:
    """At 80x24 a Kubernetes plan's "By hand", "Verify" and "Undo" were below the fold, and
    nothing said so."""
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    platforms = start_platforms(scenario, procedure="ai-saas", job_seconds=0.2)
    clock.advance(5)
    try:
        incident = timeline.open_incident("demo", "P1", "ai-saas", drill=True)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("ai-saas"),
            actions=platforms.providers,
            clock=clock,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r", "down", "down", "enter")  # Option C: Kubernetes
            screen = app.screen
            await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
            more = screen.query_one("#action-more")
            await until(pilot, lambda: more.display, "the line saying more is below")
            shown = on_screen(app)
            assert "more lines below: PgDn" in shown
            assert "By hand:" not in shown, "the test's premise: below the fold at 80x24"
            await pilot.press("a", "i")  # typing the name, then reading on: the field keeps it
            for _ in range(10):
                if not more.display:
                    break
                await pilot.press("pagedown")
                await pilot.pause()
            shown = on_screen(app)
            assert "more lines below" not in shown, "nothing more below: nothing says so"
            assert "By hand: kubectl --context demo -n ai-saas-prod rollout undo" in shown
            assert "Verify:" in shown
            assert "Undo: rollout_undo deployment=ai-saas-web namespace=ai-saas-prod" in shown
            assert screen.query_one("#action-confirm").value == "ai"  # type: ignore[attr-defined]
            await pilot.press("pageup")
            await until(pilot, lambda: more.display, "more below again")
    finally:
        platforms.stop()


async def test_a_toast_never_covers_the_result(
    timeline: Timeline,
    demo: tuple[Scenario, Platforms, FixedClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Toasts covered the Done text. The screen shows its result where toasts do not land and
    does not toast what it shows; a responder who left the screen is still told by a toast."""
    _, platforms, clock = demo
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("r", "down", "enter")  # L2 Vercel instant rollback
        screen = app.screen
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.press(*screen.plan.target, "enter")  # type: ignore[attr-defined]
        await until(pilot, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        await pilot.pause()
        assert not [n for n in app._notifications if n.title.startswith("Action ")]
        app.notify(  # what else may be told meanwhile: an escalation reminder, a tick
            "Escalate to the CTO now: the incident has been open 15 minutes without "
            "recovery, as the procedure's escalation path says.",
            title="Escalation",
            timeout=30,
        )
        await until(pilot, lambda: screen.query("Toast"), "the toast")
        await pilot.pause()
        result = screen.query_one("#action-result")
        for toast in screen.query("Toast"):
            assert not toast.region.overlaps(result.region), (toast.region, result.region)
        first = str(result.render()).split()[0]
        assert first == "Done:" and first in on_screen(app)


async def test_a_responder_who_left_while_it_ran_is_told_by_a_toast(
    timeline: Timeline,
    demo: tuple[Scenario, Platforms, FixedClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, platforms, clock = demo
    running = gated(monkeypatch, platforms.providers["vercel"], "execute")
    app = app_for(timeline, clock, platforms)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r", "down", "enter")  # L2 Vercel instant rollback
        screen = app.screen
        await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.press(*screen.plan.target, "enter")  # type: ignore[attr-defined]
        await until(pilot, lambda: "action.intent" in kinds(timeline), "the intent")
        await pilot.press("escape")  # it keeps running
        assert app.screen is not screen
        running.set()
        await until(
            pilot,
            lambda: [n for n in app._notifications if n.title == "Action succeeded"],
            "the toast",
        )
    assert "action.result" in kinds(timeline)
