"""The post-mortem's metric snapshots and its written sections, recorded in a real timeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cockpit.core.actions import Outgoing
from cockpit.core.clock import FixedClock
from cockpit.core.errors import CockpitError
from cockpit.core.export import render_json, render_markdown
from cockpit.core.export_metrics import BARS, WIDTH, sparkline
from cockpit.core.metrics import Sample
from cockpit.core.outbox import Outbox
from cockpit.core.postmortem import sections, written_event
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline


def record_error_rates(
    timeline: Timeline, clock: FixedClock, incident: int, values: list[float | None]
) -> None:
    """One error_rate reading every 10 s, as the app stores what its pollers read."""
    for value in values:
        clock.advance(10)
        error = "" if value is not None else "connection refused"
        timeline.record_samples(incident, [Sample("error_rate", value, clock.now(), "demo", error)])


def test_snapshots_show_each_metric_at_the_trigger_the_decision_and_after_the_rollback(
    timeline: Timeline, clock: FixedClock
) -> None:
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("errors", "p1", "pulse-messages").id
    record_error_rates(timeline, clock, incident, [0.5, 0.6, 9.0])
    timeline.record(incident, "trigger.fired", "Error rate > 5%", {"rule": "error-rate"})
    record_error_rates(timeline, clock, incident, [12.5, None, 11.0])
    timeline.record(incident, "wizard.decided", "Decided", {"node": "x", "answers": []})
    action = timeline.begin_action(incident, "vercel.rollback", "Roll back", {}, command="x")
    record_error_rates(timeline, clock, incident, [4.0])
    timeline.finish_action(incident, action.payload["action_id"], "succeeded", "done", {})
    record_error_rates(timeline, clock, incident, [0.4, 0.3])
    timeline.close_incident(incident, "rolled back")
    events, about = timeline.events(incident), timeline.incident(incident)
    samples = timeline.samples(incident)

    data = json.loads(render_json(events, about, procedure, samples=samples))
    series = data["metrics"]["series"][0]
    assert series["metric"] == "error_rate"
    # the last reading at each moment: 9 when it fired, 11 at the decision, 0.3 when closed
    assert series["values"] == [9.0, 11.0, 0.3]
    assert series["max"] == 12.5 and series["min"] == 0.3
    assert len(series["sparkline"]) == WIDTH and BARS[-1] in series["sparkline"]
    assert " " in series["sparkline"]  # the reading that failed is a gap, not a zero
    assert data["metrics"]["markers"].replace(" ", "") == "TDR"

    text = render_markdown(events, about, procedure, samples=samples)
    assert "| Error rate (%) | 9 | 11 | 0.3 | 12.5 at" in text
    assert "```text\nerror_rate  " in text


def test_a_flat_series_is_said_to_be_flat_not_given_a_peak(
    timeline: Timeline, clock: FixedClock
) -> None:
    incident = timeline.open_incident("quiet errors", "p3", "pulse-messages").id
    record_error_rates(timeline, clock, incident, [0.0, 0.0, 0.0])
    events, about = timeline.events(incident), timeline.incident(incident)
    text = render_markdown(events, about, None, samples=timeline.samples(incident))
    row = next(line for line in text.splitlines() if line.startswith("| error_rate |"))
    assert row.endswith("| flat at 0 |")
    assert " at 0" not in row.replace("flat at 0", "")  # no "Peak 0 at 03:12:10"
    chart = next(line for line in text.splitlines() if line.startswith("error_rate  "))
    assert chart.endswith("  flat at 0")


def test_without_samples_the_metrics_section_says_so(timeline: Timeline, clock: FixedClock) -> None:
    incident = timeline.open_incident("quiet", "p3", "pulse-messages").id
    text = render_markdown(timeline.events(incident), timeline.incident(incident), None)
    assert "No metric samples were recorded for this incident." in text


def test_sparkline_scales_between_lowest_and_highest() -> None:
    assert sparkline([0.0, 5.0, 10.0, None], 0.0, 10.0) == "▁▅█ "
    assert sparkline([3.0, 3.0], 3.0, 3.0) == "▁▁"  # a flat line, not a division by zero


def test_sections_follow_the_procedures_template_and_always_ask_the_essentials() -> None:
    huntaze = [s.title for s in sections(load_builtin("huntaze"))]
    assert huntaze == [
        "Root Cause Analysis",
        "Impact Assessment",
        "Resolution",
        "Prevention",
        "Action Items",
        "Lessons Learned",
    ]  # Summary and Timeline are computed by the cockpit
    five = [s.title for s in sections(load_builtin("five-levels"))]
    assert five[:4] == ["Impact", "Root Cause", "Prevention", "Improvements"]
    assert five[4:] == ["Lessons Learned", "Action Items"]  # the seed lacks them; asked anyway
    pulse = [s.title for s in sections(load_builtin("pulse-messages"))]
    assert pulse == ["Impact", "Root Cause", "Resolution", "Lessons Learned", "Action Items"]


def test_written_sections_replace_their_prompts_and_the_last_one_wins(
    timeline: Timeline, clock: FixedClock
) -> None:
    procedure = load_builtin("pulse-messages")
    by_key = {s.key: s for s in sections(procedure)}
    incident = timeline.open_incident("errors", "p1", "pulse-messages").id
    for section, text in (
        ("root-cause", "A config flag shipped on."),
        ("impact", "- Users affected: about 40 %\n- Data loss: none"),
        ("root-cause", "The v42 deploy enabled a broken auth middleware."),
    ):
        kind, summary, payload = written_event(by_key[section], text)
        timeline.record(incident, kind, summary, payload)
        clock.advance(timedelta(seconds=5).total_seconds())
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    assert "| Root cause | The v42 deploy enabled a broken auth middleware. |" in text
    assert "| Impact | Users affected: about 40 % |" in text
    assert "## Root Cause\n\nThe v42 deploy enabled a broken auth middleware.\n" in text
    assert "A config flag shipped on." not in text.split("## Timeline")[0]
    assert "## Lessons Learned\n\n_To be written: the key takeaways._" in text


def test_a_section_still_holding_its_prompt_is_not_recorded() -> None:
    action_items = next(s for s in sections(None) if s.key == "action-items")
    with pytest.raises(CockpitError, match="Action Items: nothing written"):
        written_event(action_items, action_items.starter + "\n")
    with pytest.raises(CockpitError, match="nothing written"):
        written_event(action_items, "   ")


def test_html_typed_into_a_section_reaches_the_export_as_text(
    timeline: Timeline, clock: FixedClock
) -> None:
    procedure = load_builtin("pulse-messages")
    by_key = {s.key: s for s in sections(procedure)}
    incident = timeline.open_incident("errors", "p1", "pulse-messages").id
    typed = (
        "The pool was <behind> the queue & AT&T saw &lt; 1 % (typed as such).\n"
        "- [ ] @dana - run `grep '<title>' a && b`\n"
        "> quoted <b>bold?</b>\n"
        "```\n<pre> stays & as is\n```"
    )
    kind, summary, payload = written_event(by_key["root-cause"], typed)
    timeline.record(incident, kind, summary, payload)
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    section = text.split("## Root Cause\n\n")[1].split("\n\n## ")[0]
    assert section == (
        "The pool was &lt;behind&gt; the queue &amp; AT&amp;T saw &amp;lt; 1 % (typed as such).\n"
        "- [ ] @dana - run `grep '<title>' a && b`\n"  # code: GitHub shows it literally
        "> quoted &lt;b&gt;bold?&lt;/b&gt;\n"  # a quote stays a quote
        "```\n<pre> stays & as is\n```"
    )
    # The summary's one line is escaped once, by the table, never twice.
    assert (
        "| Root cause | The pool was &lt;behind&gt; the queue &amp; AT&amp;T saw &amp;lt; 1 % "
        "(typed as such). |" in text
    )
    assert "&amp;amp;" not in text and "&amp;lt;behind" not in text


def test_saved_drafts_are_named_when_no_message_was_sent(
    timeline: Timeline, clock: FixedClock
) -> None:
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("errors", "p1", "pulse-messages").id
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    assert "## Communications\n\nNo message was sent through the outbox.\n" in text
    clock.advance(120)
    draft = {"template": "status-page", "subject": "", "body": "Investigating", "file": None}
    timeline.record(incident, "draft.saved", "Draft saved: Status page", draft)
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    assert (
        "## Communications\n\nNo message was sent through the outbox; "
        "1 draft saved: status-page (03:14 UTC).\n" in text
    )
    clock.advance(60)
    timeline.record(incident, "draft.saved", "Draft saved: Status page", draft)
    timeline.record(incident, "draft.saved", "Draft saved: Slack", {**draft, "template": "slack"})
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    assert (
        "No message was sent through the outbox; 2 drafts saved: status-page (saved 2 times, "
        "last 03:15 UTC), slack (03:15 UTC).\n" in text
    )
    data = json.loads(
        render_json(timeline.events(incident), timeline.incident(incident), procedure)
    )
    assert [d["template"] for d in data["drafts"]] == ["status-page", "slack"]

    # Slack's draft goes out: the table has it, and only the status page's is left to name.
    message = Outgoing(
        "slack", "Checkout errors", "Investigating", "k", extra={"template": "slack"}
    )
    timeline.record(incident, *Outbox.queue(message))
    text = render_markdown(timeline.events(incident), timeline.incident(incident), procedure)
    communications = text.split("## Communications\n\n")[1].split("\n\n## ")[0]
    assert communications.startswith("| Channel | Subject | Status | Attempts | Queued |")
    assert communications.endswith(
        "\n\n1 draft saved and not sent: status-page (saved 2 times, last 03:15 UTC)."
    )
