"""Idle cost (issue 17): a poll round of twelve sources repaints the board once, and each pane
draws its lines as the Rich group did: cut with an ellipsis, a source's words made visible."""

from __future__ import annotations

from textual.app import App, ComposeResult

from cockpit.app import CockpitApp
from cockpit.core.board import MetricView
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import PaneState, Sample
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.screens.dashboard import PAINT_EVERY, DashboardScreen
from cockpit.session import Session
from widgets.metric_pane import MetricPane

SOURCES = 12


async def test_a_poll_round_of_twelve_sources_paints_the_board_once(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    incident = timeline.open_incident("Checkout errors", "P1", pulse_procedure.name)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=pulse_procedure,
        clock=clock,
        poll_interval=1.0,
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.pause(PAINT_EVERY + 0.1)
        paints: list[None] = []
        paint = screen.paint_board

        def counted() -> None:
            paints.append(None)
            paint()

        screen.paint_board = counted  # type: ignore[method-assign]
        clock.advance(1)
        for index in range(SOURCES):
            value = 0.40 + index / 100
            sample = Sample("error_rate", value, clock.now(), f"scrape#{index}")
            app.post_message(MetricsSampled(f"scrape#{index}", [sample]))
        await pilot.pause()
        assert not paints, "the first answer of a round does not paint on its own"
        await pilot.pause(PAINT_EVERY + 0.1)
        assert len(paints) == 1
        pane = screen.query_one("#pane-error-rate", MetricPane)
        assert pane.view is not None and pane.view.value == 0.51, "the round's last answer"


class PaneApp(App[None]):
    CSS = "MetricPane { width: 24; }"

    def compose(self) -> ComposeResult:
        yield MetricPane("error_rate", "Error rate", id="pane")


def view(detail: str) -> MetricView:
    return MetricView(
        metric="error_rate",
        title="Error rate",
        unit="%",
        value=0.42,
        state=PaneState.NO_DATA,
        history=[0.4, 0.5, 0.6],
        counter="",
        detail=detail,
    )


async def test_a_pane_line_is_cut_with_an_ellipsis_and_shows_control_characters() -> None:
    async with PaneApp().run_test(size=(80, 24)) as pilot:
        pane = pilot.app.query_one(MetricPane)
        pane.view = view("GET /metrics: \x1b[2J connection refused by the load balancer")
        await pilot.pause()
        width = pane.content_size.width
        lines = [pane.render_line(y).text for y in range(3)]
        assert lines[0] == "0.42%  NO DATA"
        assert lines[2].startswith("GET /metrics: ^[[2J")
        assert len(lines[2]) == width and lines[2].endswith("…")
        assert "\x1b" not in "".join(lines)
        rich = [pane.rich_line(y) for y in range(3)]
        assert [line.plain for line in rich] == [pane.line_text(y)[0] for y in range(3)]
