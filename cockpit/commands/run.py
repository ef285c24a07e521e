"""Opens the TUI: `cockpit` with configured sources, and the launch path `cockpit demo` shares."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from cockpit.core.config import Settings
    from cockpit.core.locks import DriverLock
    from cockpit.core.outline import Outline
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import ProcedureCopy
    from cockpit.core.timeline import Incident
    from cockpit.core.timeline_open import AnyTimeline
    from cockpit.incident_app import IncidentApp
    from cockpit.session import Session
    from providers.base import ActionProvider, MetricSource, Notifier, Provider, ProviderOptions


def _options(cls: type[Provider], options: dict[str, object], where: str) -> ProviderOptions:
    """Validate a provider's options, naming the first bad field and where it is."""
    from pydantic import ValidationError

    from cockpit.core.config import ConfigFileError

    try:
        return cls.Options.model_validate(options)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigFileError(f"{where}: options.{field}: {first['msg']}") from None


def build_sources(specs: list[tuple[str, dict[str, object]]]) -> list[MetricSource]:
    """Instantiate the configured metric sources, validating each one's options."""
    from cockpit.core.config import ConfigFileError
    from providers.base import MetricSource
    from providers.registry import load_provider

    sources: list[MetricSource] = []
    for index, (name, options) in enumerate(specs):
        where = f"sources[{index}] ({name})"
        cls = load_provider(name)
        if not issubclass(cls, MetricSource):
            raise ConfigFileError(f"{where}: provider {name!r} does not provide metrics")
        sources.append(cls(_options(cls, options, where)))
    numbered(sources)
    return sources


def numbered(sources: list[MetricSource]) -> None:
    """Give two sources of one type ids of their own (`json_http#1`, `json_http#2`)."""
    from collections import Counter

    counts = Counter(source.name for source in sources)
    seen: Counter[str] = Counter()
    for source in sources:
        if counts[source.name] > 1:
            seen[source.name] += 1
            source.source_id = f"{source.name}#{seen[source.name]}"


def build_actions(
    specs: dict[str, tuple[str | None, dict[str, object], dict[str, object]]],
) -> dict[str, ActionProvider]:
    """Instantiate the configured action providers, by the name procedures use for them."""
    from providers.base import ActionProvider

    return {n: p for n, p in build_providers(specs).items() if isinstance(p, ActionProvider)}


def build_providers(
    specs: dict[str, tuple[str | None, dict[str, object], dict[str, object]]],
) -> dict[str, ActionProvider | Notifier]:
    """Instantiate every [providers.NAME] entry: action providers and notifiers."""
    from cockpit.core.config import ConfigFileError
    from providers.base import ActionProvider, Notifier
    from providers.registry import load_provider

    built: dict[str, ActionProvider | Notifier] = {}
    for name, (kind, options, params) in specs.items():
        where = f"providers.{name}"
        cls = load_provider(kind or name)
        if not issubclass(cls, ActionProvider | Notifier):
            raise ConfigFileError(f"{where}: provider {kind or name!r} neither acts nor notifies")
        provider = cls(_options(cls, options, where))
        if isinstance(provider, ActionProvider):
            provider.fixed_params = dict(params)
        built[name] = provider
    return built


def resolve_incident(
    timeline: AnyTimeline,
    incident_id: int | None,
    *,
    title: str,
    severity: str,
    procedure: str,
    drill: bool = False,
    requested: str | None = None,
    validate: Callable[[str], ProcedureCopy] | None = None,
) -> Incident:
    """The incident asked for, else the latest open one, else a new one.

    `requested` is the procedure the user named (--procedure): an incident bound to another
    one is refused, not resumed under a procedure it was not opened with. `validate` is
    called on a new incident's procedure before the incident is created, so a procedure that
    does not validate leaves nothing behind; the text it read is the copy the incident
    records (without `validate`, none: the session records the one it runs).
    """
    import os

    from cockpit.core.errors import IncidentError

    def resumable(incident: Incident) -> Incident:
        bound = incident.procedure
        if not requested or not bound or bound == requested:
            return incident
        try:
            if os.path.samefile(bound, requested):  # two names of one file
                return incident
        except (OSError, ValueError):
            pass
        raise IncidentError(
            f"incident {incident.id} is open under procedure {bound!r}, not {requested!r}: "
            f"resume it with `cockpit --incident {incident.id}`, or close it with "
            f"`cockpit incident close {incident.id}` and start again"
        )

    if incident_id is not None:
        incident = timeline.incident(incident_id)
        if incident.status != "open":
            raise IncidentError(
                f"incident {incident_id} is closed; "
                f"read it with `cockpit timeline show {incident_id}`"
            )
        return resumable(incident)
    latest = timeline.latest_open(drill=False)  # a drill is resumed as a drill (cockpit demo)
    if latest is not None and not drill:
        return resumable(latest)
    copy = validate(procedure) if validate is not None and procedure else None
    return timeline.open_incident(title, severity, procedure, drill=drill, copy=copy)


HANGUP_SAVE_SECONDS = 6.0
"""After a hangup, how long queued events may take to reach the timeline before the process
ends (cockpit.hangup gives the whole recording a little more)."""

DRAIN_QUIETLY_SECONDS = 2.0
"""Leaving: how long queued events may take before the terminal is told what is waited for."""


def launch(session: Session, *, postmortem: bool = False) -> int:
    """Hold the incident, guard against hangups, run the App; returns the exit code.

    `postmortem`: run only the post-mortem screen (`cockpit postmortem`, a closed incident).
    A crash exits non-zero, with the terminal restored (Textual does that), the traceback
    saved beside the timeline, `session.crashed` recorded, and the next start told.
    """
    from cockpit import hangup
    from cockpit.core.errors import LockHeld, TimelineError

    incident_id = session.incident.id
    lock: DriverLock | None = None
    running: list[IncidentApp] = []
    if not session.watching:  # a watcher never drives
        lock = session.locks.incident(
            incident_id, on_lost=lambda error: _driver_lost(running, str(error))
        )
        try:
            lock.acquire()
        except LockHeld as error:
            # Another cockpit drives the incident: this one responds (and drives if it ends).
            session.held_by = getattr(error, "holder", None)
            lock = None
        except TimelineError:
            lock = None  # a team database gone already: responds, drives once it is back

    app: IncidentApp
    if postmortem:
        from cockpit.postmortem_app import PostmortemApp

        app = PostmortemApp(session, lock=lock, start_pollers=False)
    else:
        from cockpit.app import CockpitApp  # Textual is imported only now

        app = CockpitApp(session, lock=lock)
    running.append(app)

    def record_hangup(reason: str) -> None:
        app.release_sources()  # a drill's database server must not outlive the session
        if app.read_only:
            return  # a read-only watcher records nothing
        keys = app.keys.take()  # a drill's keys, for its score: the App never unmounts here
        if keys is not None:
            kind, summary, payload = keys
            app.writer.submit(
                lambda timeline: timeline.record(incident_id, kind, summary, payload), kind
            )
        # After whatever is still queued, in order; bounded, a dead tty must not linger.
        app.writer.submit(
            lambda timeline: timeline.record(
                incident_id, "session.hangup", f"cockpit detached: {reason}"
            ),
            "session.hangup",
        )
        app.writer.stop(HANGUP_SAVE_SECONDS)

    hangup.install(record_hangup)
    try:
        result = app.run()
    finally:
        app.stop_sources()
    crash = app.crashed
    if crash is not None:
        record_crash(app, crash)
    finish_writes(app)
    if crash is not None:
        return 1
    return result or 0


def _driver_lost(running: list[IncidentApp], reason: str) -> None:
    """The driver's lock was lost (its team database connection went): tell the App."""
    if running:
        with contextlib.suppress(RuntimeError):  # the App has not started or has ended
            running[0].call_from_thread(running[0].driver.lost, reason)


def record_crash(app: IncidentApp, crash: BaseException) -> None:
    """Keep the traceback, record `session.crashed` pointing at it, and say so."""
    from cockpit.core.redact import scrub
    from cockpit.crash import save_traceback

    incident_id = app.session.incident.id
    where = save_traceback(app.session.files, crash, f"crash-incident-{incident_id}")
    reason = scrub(f"{type(crash).__name__}: {crash}")
    if not app.read_only:
        payload = {"error": reason, "traceback_file": str(where) if where else None}
        app.writer.submit(
            lambda timeline: timeline.record(
                incident_id, "session.crashed", f"cockpit crashed: {reason}", payload
            ),
            "session.crashed",
        )
    saved = f"; traceback saved to {where}" if where else ""
    print(
        f"cockpit: crashed ({reason}){saved}. Incident {incident_id} stays open: "
        "`cockpit` resumes it.",
        file=sys.stderr,
    )


def finish_writes(app: IncidentApp) -> None:
    """Leaving: every queued event reaches the timeline, however long another process holds
    its lock, unless the responder gives up on them (ctrl+c), and then they are named."""
    if app.writer.stop(DRAIN_QUIETLY_SECONDS):
        return
    print(
        f"cockpit: {app.writer.waiting} event(s) wait for the timeline (another process holds "
        "its write lock); saving them as soon as it is free. ctrl+c gives up on them.",
        file=sys.stderr,
    )
    try:
        app.writer.stop(None)
    except KeyboardInterrupt:
        lost = app.writer.abandon()
        print(f"cockpit: {lost} event(s) were not recorded.", file=sys.stderr)


def open_cockpit(
    *, db: str | None, procedure_name: str | None, incident_id: int | None, watch: bool = False
) -> None:
    """`cockpit` without a command; `watch`: follow an open incident live, write nothing."""
    from cockpit.core.actor import current_actor
    from cockpit.core.errors import IncidentError
    from cockpit.core.paths import config_file, timeline_db
    from cockpit.core.procedure_copy import read_copy
    from cockpit.core.timeline import Timeline
    from cockpit.core.timeline_open import is_postgres, open_timeline
    from cockpit.session import Session
    from cockpit.session_procedure import incident_copy

    config = config_file()
    settings = configured(config)
    if not db and settings is not None:  # cockpit.toml's [timeline], from the file as read
        from cockpit.commands.common import team_url
        from cockpit.core.timeline_config import timeline_setting

        db = team_url(timeline_setting(config, settings.timeline))
    # Several responders may be on one incident: each event names the terminal too.
    actor = current_actor(terminal=True)
    team = db is not None and is_postgres(db)
    timeline: AnyTimeline
    if team:
        assert db is not None
        timeline = open_timeline(db, actor=actor)  # a team's shared timeline
    else:
        timeline = Timeline(Path(db) if db else timeline_db(), actor=actor)
    if watch:
        watched = timeline.incident(incident_id) if incident_id else timeline.latest_open()
        if watched is None or watched.status != "open":
            raise IncidentError("nothing to watch: no open incident (or name one with --incident)")
        incident_id = watched.id
    chosen = procedure_name or (settings.procedure if settings else None)
    # A drill is rehearsed in a file, with its simulated production (`cockpit demo`).
    drill = None if watch or team else drill_to_resume(timeline, incident_id, chosen)
    if drill is not None and isinstance(timeline, Timeline):
        from cockpit.commands.demo import rehearse

        sys.exit(rehearse(timeline.path, incident_id=drill))
    if chosen is None and incident_id is None and timeline.latest_open(drill=False) is None:
        from cockpit.core.errors import ConfigError

        # One line and exit 2, as every refusal: exit 1 means a tampered timeline.
        raise ConfigError(
            "no procedure: pass --procedure NAME (see `cockpit procedures list`) or set "
            "`procedure` in cockpit.toml; `cockpit demo` runs the built-in demo"
        )
    prepared: dict[str, tuple[ProcedureCopy, Procedure | None]] = {}

    def prepare(name: str) -> ProcedureCopy:
        # The text a new incident records. A built-in is validated by the tests and, again,
        # in a worker after the first paint (its outline is read from the same text); any
        # other file is validated now, with its providers, so a mistake gets its one-line
        # error on the terminal.
        if name not in prepared:
            copy = read_copy(name)
            if copy.builtin:
                prepared[name] = (copy, None)
            else:
                from cockpit.procedure_check import check_copy  # pydantic: only for a file

                prepared[name] = (copy, check_copy(copy))
        return prepared[name][0]

    incident = resolve_incident(
        timeline,
        incident_id,
        title="Rollback incident",
        severity="untriaged",
        procedure=chosen or "",
        requested=procedure_name,
        validate=prepare,  # before the incident is created
    )
    name = incident.procedure or chosen or ""
    if not name:
        raise IncidentError(
            f"incident {incident.id} names no procedure: pass --procedure NAME "
            "(see `cockpit procedures list`)"
        )
    # The copy the incident recorded, not the file as edited since (one opened without a
    # copy records the file as read now).
    copy, record = incident_copy(timeline, incident, name, watching=watch)
    outline, procedure, fallback = session_procedure(copy, prepared.get(name))
    sources, actions, notifiers = configured_providers(settings)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        outline=outline,
        procedure_copy=copy,
        record_copy=record,
        procedure_fallback=fallback,
        sources=sources,
        actions=actions,
        notifiers=notifiers,
        poll_interval=settings.poll_interval_seconds if settings else DEFAULT_POLL_SECONDS,
        watching=watch,
    )
    sys.exit(launch(session))


DEFAULT_POLL_SECONDS = 15.0
"""Seconds between two polls of a source when no cockpit.toml says otherwise (as its default)."""


def configured(path: Path) -> Settings | None:
    """cockpit.toml validated, or None when there is none: then neither pydantic nor a provider
    is imported before the first frame (about 0.15 s of a resumed incident's start)."""
    if not path.exists() and not path.is_symlink():
        return None
    from cockpit.core.config import load_settings

    return load_settings(path)


def configured_providers(
    settings: Settings | None,
) -> tuple[list[MetricSource], dict[str, ActionProvider], dict[str, Notifier]]:
    """The sources, action providers and notifiers cockpit.toml configures."""
    if settings is None or not (settings.sources or settings.providers):
        return [], {}, {}
    from providers.base import ActionProvider, Notifier

    sources = build_sources([(s.provider, s.options) for s in settings.sources])
    providers = build_providers(
        {n: (p.type, p.options, p.params) for n, p in settings.providers.items()}
    )
    return (
        sources,
        {n: p for n, p in providers.items() if isinstance(p, ActionProvider)},
        {n: p for n, p in providers.items() if isinstance(p, Notifier)},
    )


def drill_to_resume(
    timeline: AnyTimeline, incident_id: int | None, chosen: str | None
) -> int | None:
    """The drill `cockpit` resumes: the one named, or, with no procedure named or configured
    and no real incident open, the latest open drill (`make demo`, q, then `cockpit`)."""
    if incident_id is not None:
        return incident_id if timeline.incident(incident_id).drill else None
    if chosen is not None or timeline.latest_open(drill=False) is not None:
        return None
    found = timeline.latest_open(drill=True)
    return found.id if found is not None else None


def session_procedure(
    copy: ProcedureCopy, prepared: tuple[ProcedureCopy, Procedure | None] | None
) -> tuple[Outline | None, Procedure | None, str | None]:
    """What a session starts with: a built-in's outline (the worker validates its copy after
    the first paint), or a file's procedure validated now (`prepared`: as the incident opened
    with it), or the file on disk with the reason, when the recorded copy no longer validates.

    Raises:
        CockpitError: Neither the copy nor the file validates.
    """
    from cockpit.core.errors import CockpitError, ProcedureFileError
    from cockpit.core.outline import builtin_outline, copy_outline

    if copy.builtin:
        try:
            return copy_outline(copy), None, None
        except ProcedureFileError:  # the worker falls back to the file, and says so
            return builtin_outline(copy.name), None, None
    if prepared is not None and prepared[0].sha256 == copy.sha256 and prepared[1] is not None:
        return None, prepared[1], None
    from cockpit.procedure_check import load_copy

    loaded = load_copy(copy)
    if loaded.procedure is None:
        raise CockpitError(loaded.error or f"{copy.shown}: the procedure does not validate")
    return None, loaded.procedure, loaded.fallback
