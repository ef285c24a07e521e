"""Feature flags through the teams' own admin API: `PATCH /admin/feature-flags`.

The seeded runbooks switch a feature off with

    curl -X PATCH https://api.example.com/admin/feature-flags \\
      -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"aiSummarization": {"enabled": false}}'

(about 30 seconds to recover). Preflight reads every flag, so an unknown name is refused before
anything changes and the previous state is captured: the plan's `undo` switches exactly those
flags back in one action. Verify reads the flags again.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiOptions, HttpActionProvider
from providers.base import Capability, Param, Params


def _message(body: Any) -> str | None:
    return str(body["error"]) if isinstance(body, dict) and "error" in body else None


class FeatureFlagsOptions(ApiOptions):
    """Where the admin API is: `base_url` plus the flags path."""

    path: str = "/admin/feature-flags"
    timeout_seconds: float = Field(default=5.0, gt=0)


class FeatureFlagsProvider(HttpActionProvider):
    """Switch flags off (or back on) through the application's admin API."""

    name = "feature_flags"
    title = "Feature flags (admin API)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK | Capability.FLAGS
    Options = FeatureFlagsOptions

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    actions: ClassVar[dict[str, str]] = {
        "disable_flags": "switch the named flags off",
        "enable_flags": "switch the named flags on",
        "set_flags": "set each named flag to the given state (the undo of the two above)",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "disable_flags": {"flags": Param("the flags to switch off: [name, ...]", required=True)},
        "enable_flags": {"flags": Param("the flags to switch on: [name, ...]", required=True)},
        "set_flags": {"states": Param("{flag: true|false, ...}", required=True)},
    }
    """What `wanted_states` reads; Unleash and Flagsmith read the same."""

    def __init__(
        self, options: FeatureFlagsOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def flags(self, report: Report | None = None) -> dict[str, bool]:
        """Every flag and whether it is on."""
        body = self.api.request("GET", self.opts.path, what="read the flags", report=report)
        if not isinstance(body, dict):
            raise ProviderError(f"read the flags: expected an object, got {type(body).__name__}")
        try:
            return {name: bool(state["enabled"]) for name, state in body.items()}
        except (TypeError, KeyError):
            raise ProviderError("read the flags: a flag has no 'enabled' field") from None

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """For `flags`: every flag, those the action would change first (on ones to switch off,
        off ones to switch on), by name: the runbook names the flag only as an example."""
        if param != "flags" or action not in ("disable_flags", "enable_flags"):
            return []
        switching_off = action == "disable_flags"
        flags = self.flags()
        ordered = sorted(flags, key=lambda name: (flags[name] != switching_off, name))
        return [(name, "on now" if flags[name] else "off now") for name in ordered]

    def health(self) -> str:
        flags = self.flags()
        return f"{len(flags)} flags, {sum(flags.values())} on"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        wanted = wanted_states(action, params)
        current = self.flags()
        unknown = sorted(set(wanted) - set(current))
        if unknown:
            raise ProviderError(
                f"no such flag at {self.api.url(self.opts.path)}: {', '.join(unknown)} "
                f"(it has: {', '.join(sorted(current)) or 'none'})"
            )
        body = {name: {"enabled": state} for name, state in wanted.items()}
        url = self.api.url(self.opts.path)
        cli = (
            f'curl -X PATCH {shlex.quote(url)} -H "Authorization: Bearer $ADMIN_TOKEN" '
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
        )
        return flag_plan(
            self.name,
            action,
            wanted,
            current,
            label=lambda name: f"{name}:",
            calls=[Call("PATCH", url, body), Call("GET", url)],
            cli=cli,
            verify="read the flags back and compare",
            data={"states": wanted},
            unchanged="none: every flag is already in that state",
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        states: dict[str, bool] = plan.data["states"]
        body = {name: {"enabled": state} for name, state in states.items()}
        report.log(f"PATCH {self.api.url(self.opts.path)}")
        self.api.request("PATCH", self.opts.path, json=body, what="set the flags", report=report)
        return Executed(f"flags set: {describe_states(states)}", {"states": states})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        states: dict[str, bool] = plan.data["states"]
        now = self.flags(report)
        wrong = {name: now.get(name) for name, state in states.items() if now.get(name) != state}
        if wrong:
            return Verified(False, f"flags not in the asked state: {describe_states(wrong)}")
        return Verified(True, f"read back: {describe_states(states)}")


def wanted_states(action: str, params: Mapping[str, Any]) -> dict[str, bool]:
    if action == "set_flags":
        states = params.get("states")
        if not isinstance(states, Mapping) or not states:
            raise ProviderError("set_flags needs states: {flag: true|false, ...}")
        return {str(name): bool(state) for name, state in states.items()}
    flags = params.get("flags")
    if isinstance(flags, str):
        flags = [flags]
    if not isinstance(flags, list) or not flags:
        raise ProviderError(f"{action} needs flags: [name, ...]")
    return {str(name): action == "enable_flags" for name in flags}


def describe_states(states: Mapping[str, bool | None]) -> str:
    return ", ".join(
        f"{name} {'on' if on else 'off' if on is not None else 'missing'}"
        for name, on in states.items()
    )


def flag_plan(
    provider: str,
    action: str,
    wanted: Mapping[str, bool],
    current: Mapping[str, bool],
    *,
    label: Callable[[str], str],
    calls: list[Call],
    cli: str,
    verify: str,
    data: dict[str, Any],
    where: str = "",
    unchanged: str = "none: every feature is already in that state",
    warnings: list[str] | None = None,
) -> Plan:
    """The plan every flag provider makes: switch these flags, the previous states as the undo.

    `label(name)` starts each change line ("split_view in production:"); `where` ends the title.
    """
    verb = {"disable_flags": "Switch off", "enable_flags": "Switch on"}.get(action, "Set")
    changes = [
        f"{label(name)} {_onoff(current[name])} → {_onoff(state)}"
        for name, state in wanted.items()
        if current[name] != state
    ]
    return Plan(
        provider=provider,
        action=action,
        target=", ".join(wanted),
        title=f"{verb} {', '.join(wanted)}{where}",
        calls=calls,
        changes=changes or [unchanged],
        cli=cli,
        destructive=False,  # the undo is one action away
        timeout_seconds=30.0,
        verify=verify,
        undo={"action": "set_flags", "params": {"states": {n: current[n] for n in wanted}}},
        data=data,
        warnings=warnings or [],
    )


def _onoff(enabled: bool) -> str:
    return "on" if enabled else "off"
