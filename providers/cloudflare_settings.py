"""Put a Worker's secrets and plain-text vars back (../shared/reference/provider_apis_2.md 13).

Secrets are write-only at Cloudflare: the names are listed, a value only ever goes in. The value
to put back comes from a source the responder configured per name (`secrets = { API_KEY = { env
= "…" } }`), and every text the cockpit writes (plan, timeline, log) names the secret and the
sha256 digest of its value, never the value; the values are registered as secrets, so a platform
echoing one is scrubbed too. Whether a name changes is known only where the cockpit recorded the
digest of what it put before. Verify lists the names; the undo puts back the values in place
before only when `secrets_current` holds them, otherwise it is by hand.

Vars live in the script's settings: the cockpit remembers each set it saw (providers.
cloudflare_state) and puts an earlier one back with the settings PATCH (multipart, a `settings`
part), sending every other binding as `inherit` so the secrets stay. The reference names no
409/412 for a changed script, so execute reads the settings again and refuses if the vars moved
since the plan; verify reads them back and compares digests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiError
from providers.cloudflare_state import WorkerState, digest, short, var_value, vars_digest

if TYPE_CHECKING:
    from providers.cloudflare import WorkersProvider

LATEST_NOT_DEPLOYED = 10215
WORKER_GONE = (10007, 10090)
VAR_TYPES = ("plain_text", "json")
_BY_HAND = (
    "Undo is by hand: Cloudflare never returns a secret's value and the cockpit keeps none; "
    "configure `secrets_current` with the values in place now to get an undo"
)
_PATCH_UNVERIFIED = (
    "Whether Cloudflare drops the bindings a settings PATCH leaves out is unverified: the "
    "cockpit sends every other binding as `inherit`, so secrets and other bindings stay"
)


def _state(p: WorkersProvider, script: str) -> WorkerState:
    return WorkerState(p.opts.base_url, p.opts.account_id, script)


def _call(
    p: WorkersProvider, method: str, path: str, what: str, report: Any = None, **how: Any
) -> Any:
    """A call whose refusals say what they mean for secrets and vars."""
    try:
        return p._call(method, path, what, report, **how)
    except ApiError as error:
        if any(f"(code {code})" in error.message for code in WORKER_GONE):
            raise ProviderError(f"{what}: the Worker no longer exists: {error.message}") from None
        if f"(code {LATEST_NOT_DEPLOYED})" in error.message:
            raise ProviderError(
                f"{what}: Cloudflare refuses (code {LATEST_NOT_DEPLOYED}): the latest version "
                "is not the one deployed (after a rollback); deploy it first, or put the secret "
                "on a new version with `wrangler versions secret put`"
            ) from None
        raise


# -- secrets -------------------------------------------------------------------------------


def secret_names(p: WorkersProvider, script: str, report: Report | None = None) -> list[str]:
    """The Worker's secret names (the API lists {name, type}, never a value)."""
    found = _call(p, "GET", p._path(script, "/secrets"), f"list secrets of {script}", report)
    if not isinstance(found, list):
        raise ProviderError(f"list secrets of {script}: the answer is not a list")
    return sorted(str(s.get("name")) for s in found if isinstance(s, dict))


def _sources(p: WorkersProvider, which: str) -> dict[str, str]:
    opts = p.workers_options
    chosen = opts.secrets_current if which == "current" else opts.secrets
    return {name: value.get_secret_value() for name, value in chosen.items()}


def plan_secrets(p: WorkersProvider, action: str, params: Mapping[str, Any]) -> Plan:
    script = p._named(params.get("script"))
    which = str(params.get("source") or "previous")
    if which not in ("previous", "current"):
        raise ProviderError(f"source is 'previous' or 'current', not {which!r}")
    sources = _sources(p, which)
    wanted = [n.strip() for n in str(params.get("names") or "").split(",") if n.strip()]
    names = wanted or sorted(sources)
    if not names:
        raise ProviderError(
            "no secret sources configured: set `secrets = { NAME = { env = … } }` in the "
            "cloudflare_workers options, one source per secret to put back"
        )
    if missing := [n for n in names if n not in sources]:
        option = "secrets_current" if which == "current" else "secrets"
        raise ProviderError(f"no source for {', '.join(missing)} in the options' {option}")
    listed, state = secret_names(p, script), _state(p, script)
    changes, digests = [], {}
    for name in names:
        digests[name] = new = digest(sources[name])
        recorded = state.secret_digest(name)
        if name not in listed:
            changes.append(f"secret {name}: not set → {short(new)} (created)")
        elif recorded is None:
            changes.append(f"secret {name}: unknown value (never recorded) → {short(new)}")
        elif recorded["digest"] == new:
            changes.append(f"secret {name}: {short(new)} as recorded {recorded['at']}; put again")
        else:
            changes.append(f"secret {name}: {short(recorded['digest'])} → {short(new)}")
    url = p.api.url(p._path(script, "/secrets"))
    put = [
        Call("PUT", url, {"name": n, "text": "<from its source>", "type": "secret_text"})
        for n in names
    ]
    current = _sources(p, "current")
    undo: dict[str, Any] | None = None
    warnings = ["Each put makes Cloudflare deploy a new version with the secret"]
    if which == "previous" and all(n in current for n in names):
        undo = {"action": action, "params": {"names": ",".join(names), "source": "current"}}
    elif which == "previous":
        warnings.append(_BY_HAND)
    return Plan(
        provider=p.name,
        action=action,
        target=script,
        title=f"Put back {len(names)} secret(s) of {script}",
        calls=[Call("GET", url), *put, Call("GET", url)],
        changes=changes,
        cli=" && ".join(f"wrangler secret put {n} --name {script}" for n in names)
        + "  # paste each value from its configured source",
        destructive=True,
        timeout_seconds=60.0,
        verify="every name is listed as a secret of the Worker (values are write-only)",
        undo=undo,
        data={"script": script, "names": names, "source": which, "digests": digests},
        warnings=warnings,
    )


def execute_secrets(p: WorkersProvider, plan: Plan, report: Report) -> Executed:
    script, names = plan.data["script"], plan.data["names"]
    sources, state = _sources(p, plan.data["source"]), _state(p, script)
    done: list[str] = []
    path = p._path(script, "/secrets")
    for name in names:
        value = sources[name]
        if digest(value) != plan.data["digests"][name]:
            raise ProviderError(f"the source of {name} changed since the plan; plan again")
        report.log(f"PUT {p.api.url(path)} {name} ({short(digest(value))})")
        body = {"name": name, "text": value, "type": "secret_text"}
        try:
            _call(p, "PUT", path, f"put secret {name} of {script}", report, json=body)
        except ProviderError as error:
            already = f"; already put: {', '.join(done)}" if done else ""
            raise ProviderError(f"{error}{already}") from None
        state.record_secret(name, digest(value))
        done.append(name)
    return Executed(f"{script}: {len(done)} secret(s) put back ({', '.join(done)})")


def verify_secrets(p: WorkersProvider, plan: Plan, executed: Executed, report: Report) -> Verified:
    script = plan.data["script"]
    listed = secret_names(p, script, report)
    missing = [n for n in plan.data["names"] if n not in listed]
    if missing:
        return Verified(False, f"{script} lists no secret {', '.join(missing)}")
    return Verified(True, f"{script} lists {', '.join(plan.data['names'])} (values write-only)")


# -- vars ----------------------------------------------------------------------------------


def _settings(p: WorkersProvider, script: str, report: Report | None = None) -> list[Any]:
    what = f"read the settings of {script}"
    found = _call(p, "GET", p._path(script, "/settings"), what, report)
    bindings = found.get("bindings") if isinstance(found, dict) else None
    if not isinstance(bindings, list):
        raise ProviderError(f"{what}: the answer has no bindings list")
    return [b for b in bindings if isinstance(b, dict) and isinstance(b.get("name"), str)]


def _vars(bindings: list[Any]) -> list[dict[str, Any]]:
    return [
        {k: b[k] for k in ("type", "name", "text", "json") if k in b}
        for b in bindings
        if b.get("type") in VAR_TYPES
    ]


def _var_changes(now: list[dict[str, Any]], then: list[dict[str, Any]]) -> list[str]:
    before = {b["name"]: short(digest(var_value(b))) for b in now}
    after = {b["name"]: short(digest(var_value(b))) for b in then}
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            changes.append(f"var {name}: {before[name]} → removed")
        elif name not in before:
            changes.append(f"var {name}: not set → {after[name]} (added)")
        elif before[name] != after[name]:
            changes.append(f"var {name}: {before[name]} → {after[name]}")
    return changes


def plan_vars(p: WorkersProvider, action: str, params: Mapping[str, Any]) -> Plan:
    script = p._named(params.get("script"))
    state = _state(p, script)
    now = _vars(_settings(p, script))
    current = state.remember_vars(now, "seen at a plan")
    wanted = str(params.get("digest") or "")
    target = state.find_vars(wanted) if wanted else state.previous_vars(current)
    if target is None:
        raise ProviderError(
            f"no recorded vars of {script} "
            + (f"with digest {wanted}" if wanted else "other than the ones in place now")
            + ": the cockpit keeps the sets it has seen, and has seen no other"
        )
    if target["digest"] == current:
        raise ProviderError(f"{script} already has the vars {short(current)}")
    url = p.api.url(p._path(script, "/settings"))
    names = [{"type": b["type"], "name": b["name"]} for b in target["bindings"]]
    return Plan(
        provider=p.name,
        action=action,
        target=script,
        title=f"Put back the vars of {script} recorded {target['at']}",
        calls=[
            Call("GET", url),
            Call("PATCH", url, {"settings": {"bindings": [*names, "<the rest as inherit>"]}}),
            Call("GET", url),
        ],
        changes=[
            f"vars {short(current)} → {short(target['digest'])}",
            *_var_changes(now, target["bindings"]),
        ],
        cli=(
            f"curl -X PATCH '{url}' -H 'Authorization: Bearer $CLOUDFLARE_API_TOKEN' "
            "-F 'settings=<settings.json;type=application/json'  # settings.json: "
            '{"bindings": [the earlier vars, {"type": "inherit", "name": …} for the rest]}'
        ),
        destructive=True,
        timeout_seconds=60.0,
        verify="the settings read back hold the recorded vars (same digest)",
        undo={"action": action, "params": {"digest": current}},
        data={"script": script, "digest": target["digest"], "before": current},
        warnings=[_PATCH_UNVERIFIED],
    )


def execute_vars(p: WorkersProvider, plan: Plan, report: Report) -> Executed:
    script, wanted = plan.data["script"], plan.data["digest"]
    state = _state(p, script)
    target = state.find_vars(wanted)
    if target is None or target["digest"] != wanted:
        raise ProviderError(f"the recorded vars {short(wanted)} of {script} are gone")
    bindings = _settings(p, script, report)
    now = vars_digest(_vars(bindings))
    if now != plan.data["before"]:
        raise ProviderError(
            f"the vars of {script} changed since the plan ({short(plan.data['before'])} → "
            f"{short(now)}); plan again"
        )
    keep = [{"type": "inherit", "name": b["name"]} for b in bindings if b["type"] not in VAR_TYPES]
    settings = json.dumps({"bindings": target["bindings"] + keep})
    path = p._path(script, "/settings")
    report.log(f"PATCH {p.api.url(path)}: vars {short(now)} → {short(wanted)}")
    files = {"settings": (None, settings, "application/json")}
    _call(p, "PATCH", path, f"put back the vars of {script}", report, files=files)
    state.remember_vars(target["bindings"], "put back")
    return Executed(f"{script}: vars {short(wanted)} put back")


def verify_vars(p: WorkersProvider, plan: Plan, executed: Executed, report: Report) -> Verified:
    script, wanted = plan.data["script"], plan.data["digest"]
    found = vars_digest(_vars(_settings(p, script, report)))
    if found == wanted:
        return Verified(True, f"{script} has the vars {short(wanted)}")
    return Verified(False, f"{script} has the vars {short(found)}, not {short(wanted)}")
