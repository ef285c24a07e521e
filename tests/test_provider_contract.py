"""The provider contract, run over every action provider against its simulator on 127.0.0.1.

Each case (tests/contract_cases/) names a provider, an action and how to see that it took
effect. Every provider must: be registered; refuse unknown options and read secrets from the
environment; plan without changing anything and without leaking the token; run through the
runner with the intent before and the result after; refuse a wrong confirmation; wait out a
rate limit; and turn refused credentials, a hang, a malformed body and a server error into a
clear, recorded failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from contract_cases import Case, all_cases
from pydantic import ValidationError

from cockpit import action_runner
from cockpit.action_runner import ConfirmationRefused, TimelineRecorder
from cockpit.core.actions import Plan, Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from cockpit.core.timeline import Timeline
from cockpit.simulators.base import Simulator
from providers.base import ActionProvider, Capability
from providers.registry import load_provider, provider_names

CASES = list(all_cases())
ACTION_PROVIDERS = [
    cls for name in provider_names() if issubclass(cls := load_provider(name), ActionProvider)
]


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def sim(case: Case) -> Iterator[Simulator]:
    simulator = case.simulator()
    with simulator:
        yield simulator


@pytest.fixture
def provider(case: Case, sim: Simulator) -> Iterator[ActionProvider]:
    built = case.provider(sim, {})
    yield built
    built.close()


def typed_for(plan: Plan) -> str | None:
    return plan.target if plan.destructive else None


def events(timeline: Timeline) -> list[tuple[str, str, dict[str, object], str | None]]:
    incident = timeline.incidents()[0].id
    return [(e.kind, e.summary, dict(e.payload), e.command) for e in timeline.events(incident)]


def mutations(sim: Simulator) -> list[str]:
    if not isinstance(sim, Simulator):
        return []  # a local provider: `changed` is the evidence
    return [f"{r.method} {r.path}" for r in sim.requests if r.method != "GET"]


def http_only(case: Case) -> None:
    if not case.http:
        pytest.skip("an HTTP-only check; this provider is local")


def test_it_is_registered_with_a_complete_identity(provider: ActionProvider) -> None:
    cls = type(provider)
    assert load_provider(cls.name) is cls
    assert cls.title and cls.actions and Capability.ROLLBACK in cls.capabilities


def test_options_refuse_unknown_keys_and_read_the_token_from_the_environment(
    case: Case, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_only(case)
    with pytest.raises(ValidationError):
        case.provider(sim, {"tokne": "typo"})
    monkeypatch.setenv("CONTRACT_TOKEN", sim.token)
    from_env = case.provider(sim, {"token": {"env": "CONTRACT_TOKEN"}})
    assert from_env.health()
    assert sim.token not in repr(from_env.options)
    with pytest.raises(ValidationError, match="NOT_SET_ANYWHERE"):
        case.provider(sim, {"token": {"env": "NOT_SET_ANYWHERE"}})


def test_the_plan_changes_nothing_and_leaks_no_secret(
    case: Case, sim: Simulator, provider: ActionProvider, timeline: Timeline
) -> None:
    plan = provider.preflight(case.action, case.params)
    assert plan.cli and plan.calls and plan.target and plan.changes and plan.verify
    assert getattr(sim, "token", "no token") not in json.dumps(plan.as_payload())
    incident = timeline.open_incident("contract", "P1", "pulse-messages")
    action_runner.dry_run(plan, TimelineRecorder(timeline, incident.id))
    assert mutations(sim) == [] and not case.changed(sim)
    assert [e[0] for e in events(timeline)][-1] == "plan.dry_run"


@pytest.mark.parametrize("cls", ACTION_PROVIDERS, ids=[cls.name for cls in ACTION_PROVIDERS])
def test_every_action_declares_the_parameters_it_reads(cls: type[ActionProvider]) -> None:
    """`cockpit procedures validate` checks a procedure's params against these declarations;
    an action without one would let any parameter through."""
    assert set(cls.action_params) == set(cls.actions)
    for action, params in cls.action_params.items():
        assert params, (cls.name, action)
        for name, param in params.items():
            assert param.what, (cls.name, action, name)
            assert all(other in params for other in param.instead), (cls.name, action, name)
            assert not param.instead or param.required, (cls.name, action, name)


def test_the_case_and_the_plan_undo_use_only_declared_parameters(
    case: Case, provider: ActionProvider
) -> None:
    """The undo runs through the same provider, so it too must pass the declared schema."""
    declared, extra = type(provider).action_params, type(provider).extra_params
    assert case.action in extra or set(case.params) <= set(declared[case.action])
    undo = provider.preflight(case.action, case.params).undo
    if undo is not None:
        assert set(undo["params"]) <= set(declared[undo["action"]]), undo


def test_an_unknown_action_is_refused_by_name(provider: ActionProvider) -> None:
    with pytest.raises(ProviderError, match="no action 'explode'"):
        provider.preflight("explode", {})


def test_the_action_runs_verifies_and_is_recorded(
    case: Case, sim: Simulator, provider: ActionProvider, timeline: Timeline
) -> None:
    incident = timeline.open_incident("contract", "P1", "pulse-messages")
    plan = provider.preflight(case.action, case.params)
    result = action_runner.run(
        provider, plan, typed_for(plan), TimelineRecorder(timeline, incident.id), Report()
    )
    assert result.outcome == "succeeded", result.summary
    assert result.verified and case.changed(sim)
    recorded = events(timeline)
    intent = next(e for e in recorded if e[0] == "action.intent")
    outcome = next(e for e in recorded if e[0] == "action.result")
    assert intent[3] == plan.cli  # the CLI-equivalent line is on the intent
    assert outcome[2]["outcome"] == "succeeded" and outcome[2]["undo"] == plan.undo
    assert getattr(sim, "token", "no token") not in json.dumps(recorded)


def test_a_wrong_confirmation_runs_nothing(
    case: Case, sim: Simulator, provider: ActionProvider, timeline: Timeline
) -> None:
    plan = provider.preflight(case.action, case.params)
    if not plan.destructive:
        pytest.skip("not destructive: confirmed with Enter, no typed name")
    incident = timeline.open_incident("contract", "P1", "pulse-messages")
    recorder = TimelineRecorder(timeline, incident.id)
    with pytest.raises(ConfirmationRefused, match="type the target"):
        action_runner.run(provider, plan, plan.target + "x", recorder, Report())
    assert mutations(sim) == [] and not case.changed(sim)
    assert [e[0] for e in events(timeline)][-1] == "plan.refused"


def test_a_rate_limit_is_waited_out(
    case: Case, sim: Simulator, provider: ActionProvider, timeline: Timeline
) -> None:
    http_only(case)
    incident = timeline.open_incident("contract", "P1", "pulse-messages")
    plan = provider.preflight(case.action, case.params)
    sim.fail("rate_limit", retry_after=7, times=2)
    waited: list[float] = []
    report = Report(sleeper=waited.append)
    result = action_runner.run(
        provider, plan, typed_for(plan), TimelineRecorder(timeline, incident.id), report
    )
    assert result.outcome == "succeeded", result.summary
    assert waited[:2] == [7, 7] and case.changed(sim)
    assert any("rate limited" in line for line in result.transcript)


def test_refused_credentials_are_named(case: Case, sim: Simulator) -> None:
    http_only(case)
    wrong = case.provider(sim, {"token": "not-the-token"})
    with pytest.raises(ProviderError) as raised:
        wrong.health()
    assert any(word in str(raised.value) for word in ("credentials", "not allowed"))
    assert "not-the-token" not in str(raised.value)


def test_a_hang_becomes_a_timeout(case: Case, sim: Simulator) -> None:
    http_only(case)
    quick = case.provider(sim, {"timeout_seconds": 0.3})
    sim.fail("hang", seconds=5, times=50)
    with pytest.raises(ProviderTimeout, match=r"no (complete )?answer"):
        quick.preflight(case.action, case.params)


def test_a_malformed_body_is_an_error_not_a_crash(
    case: Case, sim: Simulator, provider: ActionProvider
) -> None:
    http_only(case)
    sim.fail("malformed", times=50)
    with pytest.raises(ProviderError, match="not valid JSON"):
        provider.preflight(case.action, case.params)


def test_a_server_error_while_executing_is_recorded_as_failed(
    case: Case, sim: Simulator, provider: ActionProvider, timeline: Timeline
) -> None:
    http_only(case)
    incident = timeline.open_incident("contract", "P1", "pulse-messages")
    plan = provider.preflight(case.action, case.params)
    sim.fail("status", status=503, times=1000)
    result = action_runner.run(
        provider, plan, typed_for(plan), TimelineRecorder(timeline, incident.id), Report()
    )
    assert result.outcome == "failed" and "503" in result.summary
    kinds = [e[0] for e in events(timeline)]
    assert kinds[-2:] == ["action.intent", "action.result"]  # nothing half-done unrecorded
    assert timeline.unresolved_actions(incident.id) == []
