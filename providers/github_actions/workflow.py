"""A workflow file's `workflow_dispatch` inputs, read and checked before anything is posted.

GitHub refuses a dispatch whose inputs the workflow does not declare (422 "Unexpected inputs
provided"), and runs one whose required input is missing or whose choice is not an option
only to fail it later, or not at all: so preflight reads the file at the ref (the contents
endpoint, base64) and checks the inputs itself, naming the input that is wrong. The file is
the repository's, not ours: it is read with the project's bounded YAML reader.

YAML 1.1 reads the key `on` as the boolean true, so the trigger is looked up under both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.core.errors import ProviderError
from cockpit.core.safe_yaml import YAMLRefused, load

TYPES = ("string", "choice", "boolean", "number", "environment")
MAX_INPUTS = 25
"""The most top-level inputs a dispatch may send (GitHub's documented limit)."""


@dataclass(frozen=True)
class Input:
    """One declared input of a workflow_dispatch trigger."""

    name: str
    description: str = ""
    required: bool = False
    default: str | None = None
    type: str = "string"
    options: tuple[str, ...] = ()


def decode_contents(body: Any, shown: str) -> str:
    """The text of a file from GET /repos/{o}/{r}/contents/{path} (base64, line-wrapped)."""
    if not isinstance(body, dict) or body.get("type", "file") != "file":
        raise ProviderError(f"{shown} is not a file in the repository")
    if body.get("encoding") != "base64" or not isinstance(body.get("content"), str):
        raise ProviderError(f"{shown} came back without its content (over 1 MB?)")
    try:
        return base64.b64decode(body["content"], validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ProviderError(f"{shown}: its content cannot be decoded: {error}") from None


@dataclass(frozen=True)
class WorkflowFile:
    """What a plan shows of a workflow file: its dispatch inputs, and its jobs and steps."""

    inputs: dict[str, Input]
    jobs: list[str]
    """"job (step, step, …)" for each job, as the file names them."""


def read_workflow(text: str, shown: str) -> WorkflowFile:
    """Parse a workflow file that must be dispatchable (see `dispatch_inputs`)."""
    try:
        data = load(text)
    except YAMLRefused as error:
        where = f" line {error.line}" if error.line else ""
        raise ProviderError(f"{shown}{where}: {error}") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{shown} is not a workflow (no mapping at the top)")
    return WorkflowFile(dispatch_inputs(data, shown), _jobs(data.get("jobs")))


def _jobs(jobs: Any) -> list[str]:
    outline = []
    for key, job in (jobs if isinstance(jobs, dict) else {}).items():
        job = job if isinstance(job, dict) else {}
        steps = job.get("steps")
        steps = steps if isinstance(steps, list) else []
        names = [
            str(s.get("name") or s.get("uses") or "a step") for s in steps if isinstance(s, dict)
        ]
        title = str(job.get("name") or key)
        outline.append(f"{title} ({', '.join(names)})" if names else title)
    return outline


def dispatch_inputs(data: dict[Any, Any], shown: str) -> dict[str, Input]:
    """The inputs the workflow's `on.workflow_dispatch` declares; refuses a workflow that
    cannot be dispatched (no such trigger) or whose inputs are malformed."""
    trigger = data.get("on", data.get(True))
    if trigger is None:
        raise ProviderError(f"{shown} is not a valid workflow: it has no 'on' key")
    if trigger == "workflow_dispatch" or (
        isinstance(trigger, list) and "workflow_dispatch" in trigger
    ):
        return {}
    if not isinstance(trigger, dict) or "workflow_dispatch" not in trigger:
        raise ProviderError(
            f"{shown} has no workflow_dispatch trigger: GitHub refuses to run it by hand"
        )
    section = trigger["workflow_dispatch"] or {}
    declared = section.get("inputs") if isinstance(section, dict) else None
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise ProviderError(f"{shown}: workflow_dispatch.inputs is not a mapping")
    return {str(name): _input(str(name), spec, shown) for name, spec in declared.items()}


def _input(name: str, spec: Any, shown: str) -> Input:
    spec = spec if isinstance(spec, dict) else {}
    kind = str(spec.get("type") or "string")
    if kind not in TYPES:
        raise ProviderError(f"{shown}: input {name!r} has an unknown type {kind!r}")
    options = spec.get("options") or []
    if kind == "choice" and not (isinstance(options, list) and options):
        raise ProviderError(f"{shown}: input {name!r} is of type choice, but has no options")
    default = spec.get("default")
    return Input(
        name=name,
        description=str(spec.get("description") or ""),
        required=spec.get("required") is True,
        default=None if default is None else _text(default),
        type=kind,
        options=tuple(_text(option) for option in options) if kind == "choice" else (),
    )


def _text(value: Any) -> str:
    """A value as GitHub sends it: a string, booleans lower-case."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_inputs(
    given: Mapping[str, Any], declared: Mapping[str, Input], shown: str
) -> dict[str, str]:
    """The inputs to send, as strings; refuses the first that GitHub would refuse or the
    workflow could not use, naming it."""
    names = ", ".join(declared) or "none"
    for name in given:
        if name not in declared:
            raise ProviderError(
                f"{shown} declares no input {name!r} (it declares: {names}); "
                "GitHub would refuse the dispatch as unexpected"
            )
    if len(given) > MAX_INPUTS:
        raise ProviderError(f"{shown}: {len(given)} inputs, GitHub takes at most {MAX_INPUTS}")
    sent: dict[str, str] = {}
    for name, spec in declared.items():
        value = given.get(name)
        if value is None or value == "":
            if spec.required and not spec.default:
                what = f" ({spec.description})" if spec.description else ""
                raise ProviderError(f"{shown} requires input {name!r}{what}; give it a value")
            continue
        text = _text(value)
        if text.startswith("[") and text.endswith("]"):
            raise ProviderError(f"input {name!r} is still a placeholder ({text}); fill it in")
        _check_value(spec, text, shown)
        sent[name] = text
    return sent


def _check_value(spec: Input, text: str, shown: str) -> None:
    if spec.type == "choice" and text not in spec.options:
        raise ProviderError(
            f"input {spec.name!r} of {shown} must be one of {', '.join(spec.options)}; "
            f"{text!r} is not"
        )
    if spec.type == "boolean" and text not in ("true", "false"):
        raise ProviderError(f"input {spec.name!r} of {shown} is a boolean: true or false")
    if spec.type == "number":
        try:
            float(text)
        except ValueError:
            raise ProviderError(
                f"input {spec.name!r} of {shown} is a number; {text!r} is not"
            ) from None


def suggestions(spec: Input) -> list[tuple[str, str]]:
    """Values a responder may pick for one input, as (value, label), best first."""
    if spec.type == "choice":
        ordered = sorted(spec.options, key=lambda option: option != spec.default)
        return [(o, "the default" if o == spec.default else "an option") for o in ordered]
    if spec.type == "boolean":
        return [(v, "the default" if v == spec.default else v) for v in ("true", "false")]
    if spec.default:
        return [(spec.default, "the workflow's default")]
    if spec.type == "string":
        what = spec.description or spec.name
        return [("Rollback from the incident cockpit", f"{what}: a suggestion; type your own")]
    return []
