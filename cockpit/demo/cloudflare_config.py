"""The drill's Worker configuration: secrets and plain-text vars changed by the bad deploy.

Pitchey's Configuration Rollback (seed 004) puts secrets back (`wrangler secret put JWT_SECRET <
previous-jwt-secret.txt`) and a var (`--var FEATURE_FLAG=false`). The drill gives the Worker the
good values first, records the good vars as the cockpit would have seen them before the change
(cloudflare_workers keeps the sets it saw, in the data directory), then the bad deploy rotates
the secrets and turns the flag on. The provider's sources for the previous values are throwaway
values held in its options (a real cockpit.toml names a file or an environment variable), the
bad ones as `secrets_current`, so the plan has an undo. Either put back recovers the scenario.
"""

from __future__ import annotations

import secrets
from typing import Any

from cockpit.demo.platforms import Named
from cockpit.demo.scenario import Scenario

CONFIG_ACTIONS = ("restore_secrets", "restore_vars")
DRILL_SECRETS = "API_SECRET"
"""The secret the bad deploy rotates, when no option names one."""
GOOD_VARS = {"FEATURE_FLAG": "false"}
BAD_VARS = {"FEATURE_FLAG": "true"}


def wanted(named: Named) -> bool:
    """Whether an option of the procedure puts the Worker's secrets or vars back."""
    return any(
        option.provider == named.provider and option.action in CONFIG_ACTIONS
        for option in named.procedure.options
    )


def set_up(
    simulator: Any, script: str, named: Named, scenario: Scenario, options: dict[str, Any]
) -> dict[str, Any]:
    """Good secrets and vars, seen by the cockpit, then the bad deploy's; the provider's
    options with the secret sources. The scenario recovers once either is put back."""
    from providers.cloudflare_state import WorkerState

    names = [n.strip() for n in named.param("names", DRILL_SECRETS).split(",") if n.strip()]
    good = {name: secrets.token_urlsafe(18) for name in names}
    bad = {name: secrets.token_urlsafe(18) for name in names}
    simulator.set_vars(script, GOOD_VARS)
    for name, value in good.items():
        simulator.set_secret(script, name, value)
    state = WorkerState(options["base_url"], options["account_id"], script)
    seen = [{"type": "plain_text", "name": k, "text": v} for k, v in GOOD_VARS.items()]
    state.remember_vars(seen, "seen before the bad deploy (drill)")
    simulator.set_vars(script, BAD_VARS)
    for name, value in bad.items():
        simulator.set_secret(script, name, value)

    def changed(request: Any, reply: Any) -> None:
        if f"/scripts/{script}/" not in request.path:
            return
        flags = simulator.var_values(script)
        put_back = any(simulator.secret_value(script, n) == v for n, v in good.items())
        if put_back or flags.get("FEATURE_FLAG") == GOOD_VARS["FEATURE_FLAG"]:
            scenario.rollback()

    simulator.after = changed
    return {**options, "secrets": good, "secrets_current": bad}
