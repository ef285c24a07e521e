"""A procedure checked against the installed providers, so that what validates runs.

`cockpit.core` may not import providers, so the core loader takes this check as a function:
every option and every checklist `run` must name a provider installed as an entry point (or
`manual`: a human runs the steps the cockpit shows), an action that provider has, only
parameters that action reads, and every parameter it cannot run without. Each provider
declares its actions' parameters itself (`ActionProvider.action_params`); a required one may
be written as "[placeholder]", which the action screen asks the responder for.

Everything that loads a procedure to use it loads it through here: `cockpit procedures`,
backtest, export, postmortem, `incident open`, the cockpit's start and its worker (an
incident's recorded copy of its procedure, `load_copy`, too).

A start (`check_copy`, `load_copy`) reads a procedure validated and checked before from the
procedure cache (`cockpit.core.procedure_cache`), keyed by `check_key`: the installed
providers' fingerprint and the source of this check. `cockpit procedures validate` and the
other `load_*` always validate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core import procedure_cache, procedure_copy

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import Loaded, ProcedureCopy
    from providers.base import ActionProvider

Where = tuple[str | int, ...]


def load_procedure(name_or_path: str) -> Procedure:
    """A built-in name or a procedure file, validated and checked against the providers."""
    from cockpit.core import procedure_loader

    return procedure_loader.load_procedure(name_or_path, check=provider_problems)


def load_procedure_file(path: Path) -> Procedure:
    """A procedure file, validated and checked against the providers."""
    from cockpit.core import procedure_loader

    return procedure_loader.load_procedure_file(path, check=provider_problems)


def load_builtin(name: str) -> Procedure:
    """A built-in procedure, validated and checked against the providers."""
    from cockpit.core import procedure_loader

    return procedure_loader.load_builtin(name, check=provider_problems)


def check_copy(copy: ProcedureCopy) -> Procedure:
    """A procedure file's text as read (the copy a new incident records), validated and
    checked against the providers (or as the cache kept it); ProcedureFileError if it does
    not hold."""
    return procedure_cache.parse(
        copy.text, copy.shown, check=provider_problems, check_key=check_key
    )


def load_copy(copy: ProcedureCopy) -> Loaded:
    """The copy of its procedure an incident recorded, validated and checked against the
    providers (or as the cache kept it); the file on disk, with the reason, when the copy no
    longer validates."""
    return procedure_copy.load(copy, check=provider_problems, check_key=check_key)


def check_key() -> str:
    """What `provider_problems` consults, as a hash: the installed providers (their
    distributions, entry points and source: `providers.installed`) and this check's own
    source and `manual`'s. A procedure checked under another key is checked again."""
    import hashlib
    from importlib.util import find_spec

    from providers.installed import fingerprint

    digest = hashlib.sha256(fingerprint().encode())
    for module in (__name__, "cockpit.core.manual"):
        spec = find_spec(module)
        origin = spec.origin if spec is not None else None
        digest.update(Path(origin).read_bytes() if origin else module.encode())
    return digest.hexdigest()


def provider_problems(procedure: Procedure) -> Iterator[tuple[Where, str]]:
    """(data path, problem) for each provider, action or parameter that would not run."""
    found: dict[str, type[ActionProvider] | str] = {}
    for position, option in enumerate(procedure.options):
        where: Where = ("options", position)
        yield from _use(where, option.provider, option.action, option.params, found)
    for kind, checklist in procedure.checklists.items():
        for position, item in enumerate(checklist.items):
            if item.run is not None:
                where = ("checklists", kind, "items", position, "run")
                yield from _use(where, item.run.provider, item.run.action, item.run.params, found)


def _use(
    where: Where,
    provider: str,
    action: str,
    params: Mapping[str, Any],
    found: dict[str, type[ActionProvider] | str],
) -> Iterator[tuple[Where, str]]:
    """The problems of one provider action with these parameters."""
    from cockpit.core.manual import MANUAL

    if provider == MANUAL:
        return  # free-form: the action and parameters are words for the human
    if provider not in found:
        found[provider] = _action_provider(provider)
    cls = found[provider]
    if isinstance(cls, str):
        yield (*where, "provider"), cls
        return
    if action not in cls.actions:
        yield (
            (*where, "action"),
            f"{provider} has no action {action!r} (it has: {_names(cls.actions)})",
        )
        return
    declared = cls.action_params.get(action)
    if declared is None:
        return  # the provider does not say what the action reads
    for name in params:
        if name not in declared and action not in cls.extra_params:
            yield (
                (*where, "params", name),
                f"{provider} {action} takes no parameter {name!r} (it takes: {_names(declared)})",
            )
    for name, param in declared.items():
        if not param.required or any(_given(params, n) for n in (name, *param.instead)):
            continue
        either = " or ".join((name, *param.instead))
        yield (
            (*where, "params"),
            f"{provider} {action} needs {either} ({param.what}): write it, or "
            f'"[{name}]" for the responder to fill in',
        )


def _given(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is not None and value != "" and value != [] and value != {}


def _names(names: Mapping[str, object]) -> str:
    return ", ".join(sorted(names)) or "none"


def _action_provider(name: str) -> type[ActionProvider] | str:
    """The class installed as `name`, or why a procedure cannot use it."""
    from cockpit.core.errors import ConfigError
    from cockpit.core.manual import MANUAL
    from providers.base import ActionProvider
    from providers.registry import load_provider, provider_names

    if name not in provider_names():
        return (
            f"provider {name!r} is not installed (installed: {_names(dict.fromkeys(_actors()))}; "
            f"or {MANUAL}, for steps a human runs)"
        )
    try:
        cls = load_provider(name)
    except ConfigError as error:
        return str(error)
    if not issubclass(cls, ActionProvider):
        return f"provider {name!r} runs no actions ({cls.title}): name an action provider"
    return cls


def _actors() -> list[str]:
    """The installed providers that run actions (each is imported to tell)."""
    from cockpit.core.errors import ConfigError
    from providers.base import ActionProvider
    from providers.registry import load_provider, provider_names

    actors = []
    for name in provider_names():
        try:
            if issubclass(load_provider(name), ActionProvider):
                actors.append(name)
        except ConfigError:
            continue  # a broken provider is not one to suggest
    return actors
