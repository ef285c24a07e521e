"""Runs an automatic rollback once its countdown ended: plan, guard rails, run, verify.

Headless, from the App's worker thread, through the same runner as a human's action
(cockpit.action_runner), so the same rules hold: the intent is recorded before anything
changes, the result after, one action per target. What differs is who decides: the procedure
opted in (cockpit.core.auto_rollback), so a parameter it leaves open takes the provider's first
candidate (the one the rollback means, as a drill does), and the typed confirmation is the
target itself, which the guard rails allow only for a plan that is not destructive or that the
procedure explicitly allows unattended.

Returns the event that closes the automatic rollback (verified, failed or refused) and why;
the App records it and escalates when it is not verified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cockpit import action_runner
from cockpit.core.auto_rollback import FAILED, REFUSED, STARTED, VERIFIED
from cockpit.core.errors import CockpitError
from cockpit.core.procedure import is_placeholder

if TYPE_CHECKING:
    from cockpit.core.actions import Report
    from cockpit.core.locks import Locks
    from cockpit.core.procedure import AutomaticRollback, Procedure
    from providers.base import ActionProvider


def run_automatic(
    entry: AutomaticRollback,
    procedure: Procedure,
    provider: ActionProvider | None,
    recorder: action_runner.Recorder,
    report: Report,
    *,
    busy: Callable[[], bool],
    locks: Locks | None = None,
) -> tuple[str, str]:
    """Plan and run `entry`'s option unless a guard rail stops it: (closing kind, reason)."""
    option = procedure.option(entry.option)
    if provider is None:
        return REFUSED, f"the {option.provider!r} provider is not configured in this session"
    if busy():
        return REFUSED, (
            "a responder's rollback is in flight or already ran: a human acted, the cockpit "
            "does not"
        )
    try:
        params = {**option.params, **provider.fixed_for(option.action)}
        for key, value in list(params.items()):
            if is_placeholder(value):
                offered = provider.choices(option.action, key, params)
                if not offered:
                    return REFUSED, f"{option.provider} offers nothing for {key}"
                params[key] = offered[0][0]
        plan = action_runner.stricter(provider.preflight(option.action, params), option.destructive)
    except CockpitError as error:
        return REFUSED, f"cannot plan {option.title}: {error}"
    if plan.destructive and not entry.destructive_allowed:
        return REFUSED, (
            f"the plan is destructive (target {plan.target}) and the procedure does not allow "
            "it unattended: a responder must confirm it"
        )
    if busy():
        return REFUSED, "a responder's action started meanwhile: the cockpit does not act"
    recorder.note(
        STARTED,
        f"Automatic rollback started: {plan.title}",
        {"option": option.id, "target": plan.target},
    )
    try:
        result = action_runner.run(provider, plan, plan.target, recorder, report, locks=locks)
    except (action_runner.TargetBusy, action_runner.ConfirmationRefused) as error:
        return REFUSED, str(error)
    if result.outcome == "succeeded" and result.verified:
        return VERIFIED, result.summary
    return FAILED, result.summary
