"""The Docker Compose provider against real containers, on a private podman's Docker API.

One podman serves the module (tests/podman.py, about a second to start and stop); each test has
its own compose project on it. The images localhost/mini:1 and :2 differ in a file, an ENV and a
LABEL, so a test can tell which image a container really runs and that the older image's own
config came back with it. Podman runs no healthcheck timers here (no systemd), so the tests that
need a health status run `podman healthcheck run` themselves while the action goes on.

Not covered against a real host: ssh:// (no second machine, and the SDK's ssh support needs
paramiko, which the venv does not have); its URL handling and its failure modes are tested.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import podman
import pytest
from pydantic import ValidationError

from cockpit import action_runner
from cockpit.action_runner import Result, TimelineRecorder
from cockpit.core.actions import Plan, Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.timeline import Timeline
from providers.docker_compose import (
    IMAGE,
    REPLACE,
    ComposeOptions,
    ComposeProvider,
    check_ssh,
    engine,
    recreate_body,
    short,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HEALTHCHECK = ["CMD", "test", "-f", "/etc/version"]
_projects = itertools.count(1)


@pytest.fixture(scope="module")
def pm() -> Iterator[podman.Podman]:
    reason = podman.ensure()
    if reason:
        pytest.skip(reason)
    with podman.Podman() as started:
        yield started


@pytest.fixture
def project(pm: podman.Podman) -> Iterator[str]:
    name = f"t{next(_projects)}"
    yield name
    pm.remove_project(name)


def provider(pm: podman.Podman, project: str, **overrides: Any) -> ComposeProvider:
    options = {
        "base_url": pm.base_url,
        "project": project,
        "timeout_seconds": 10.0,
        "stop_timeout": 2,
        "verify_seconds": 10.0,
        "settle_seconds": 1.0,
        **overrides,
    }
    return ComposeProvider(ComposeOptions.model_validate(options))


def run(compose: ComposeProvider, plan: Plan, timeline: Timeline) -> Result:
    incident = timeline.open_incident("compose", "P1", "ai-saas")
    return action_runner.run(
        compose, plan, plan.target, TimelineRecorder(timeline, incident.id), Report()
    )


def web(pm: podman.Podman, project: str, service: str = "web") -> list[dict[str, Any]]:
    """The service's containers as `docker inspect` shows them."""
    return [c.attrs for c in pm.containers(project, service)]


@contextlib.contextmanager
def healthchecks(pm: podman.Podman, *names: str) -> Iterator[None]:
    """Run the containers' healthchecks every 0.3 s meanwhile (no systemd timers here)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(0.3):
            for name in names:
                pm.healthcheck(name)

    worker = threading.Thread(target=beat, daemon=True)
    worker.start()
    try:
        yield
    finally:
        done.set()
        worker.join(timeout=35)


def test_web_goes_back_to_the_image_recorded_before_the_bad_deploy_and_undo_returns(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    pm.service(project, "web", "1", healthcheck=HEALTHCHECK, environment={"MODE": "prod"})
    compose = provider(pm, project)
    assert "web 1/1 on " + short(pm.images["1"]) in compose.health()  # the cockpit saw mini:1
    deployed = pm.deploy(project, "web", "2")  # the bad deploy
    back = pm.network(project, "back")  # a second network, joined after create as Compose does
    pm.client.api.connect_container_to_network(deployed.id, back, aliases=["web-back"])
    before = web(pm, project)[0]
    volume = next(m["Name"] for m in before["Mounts"] if m["Destination"] == "/data")

    plan = compose.preflight("image_rollback", {"service": "web"})
    assert plan.target == "web" and plan.destructive
    assert plan.changes[0] == (
        f"web: image {short(pm.images['2'])} (localhost/mini:2) → "
        f"{short(pm.images['1'])} (localhost/mini:1)"
    )
    assert plan.undo == {
        "action": "image_rollback",
        "params": {"service": "web", "image": pm.images["2"]},
    }
    assert any("ran before" in warning for warning in plan.warnings)
    with healthchecks(pm, f"{project}-web-1"):
        result = run(compose, plan, timeline)
    assert result.outcome == "succeeded", result.summary
    assert "healthy" in result.summary

    # Compose's order, each step in the log: create beside, stop, remove, rename, start.
    steps = [line for line in result.transcript if line.startswith(f"{project}-web-1: ")]
    order = ["create", "stop", "remove", "rename", "start"]
    assert [w for w in (s.split(": ", 1)[1].split()[0] for s in steps) if w in order] == order

    [after] = web(pm, project)
    assert after["Id"] != before["Id"] and after["Name"] == before["Name"]
    assert after["Image"] == pm.images["1"] and after["State"]["Running"]
    labels, old_labels = after["Config"]["Labels"], before["Config"]["Labels"]
    assert labels["version"] == "1"  # the older image's own LABEL, not the newer one's
    assert "VERSION=1" in after["Config"]["Env"] and "MODE=prod" in after["Config"]["Env"]
    assert labels["com.docker.compose.image"] == pm.images["1"]
    assert labels["com.docker.compose.replace"] == f"{project}-web-1"
    for key in ("project", "service", "container-number", "oneoff", "config-hash"):
        assert labels[f"com.docker.compose.{key}"] == old_labels[f"com.docker.compose.{key}"]
    assert after["HostConfig"]["Init"] is True
    assert after["Config"]["Healthcheck"]["Test"] == HEALTHCHECK
    assert [m["Name"] for m in after["Mounts"] if m["Destination"] == "/data"] == [volume]
    networks = after["NetworkSettings"]["Networks"]
    assert {f"{project}-web-1", "web"} <= set(networks[f"{project}_default"]["Aliases"])
    assert "web-back" in networks[back]["Aliases"]
    with pytest.raises(Exception, match=r"(?i)no such container"):
        pm.client.api.inspect_container(before["Id"])

    undo = compose.preflight(plan.undo["action"], plan.undo["params"])
    assert undo.changes[0].startswith(f"web: image {short(pm.images['1'])}")
    with healthchecks(pm, f"{project}-web-1"):
        assert run(compose, undo, timeline).outcome == "succeeded"
    [again] = web(pm, project)
    assert again["Image"] == pm.images["2"] and again["Config"]["Labels"]["version"] == "2"
    assert [e["image"] for e in compose.history("web")] == [
        pm.images["1"],
        pm.images["2"],
        pm.images["1"],
        pm.images["2"],
    ]


def test_the_plan_shows_the_engine_calls_the_pinned_compose_line_and_the_drift_warning(
    pm: podman.Podman, project: str
) -> None:
    running = pm.service(project, "web", "2")
    compose = provider(pm, project)
    digest = pm.client.api.inspect_image(pm.images["1"])["RepoDigests"][0]
    plan = compose.preflight("image_rollback", {"service": "web", "image": digest})
    old, name = running.id[:12], f"{project}-web-1"
    api = f"{pm.base_url}/v1.41/containers"
    assert [call.line().split(" {")[0] for call in plan.calls] == [
        f"POST {api}/create?name={old}_{name}",
        f"POST {api}/{old}/stop?t=2",
        f"DELETE {api}/{old}",
        f"POST {api}/{old}_{name}/rename?name={name}",
        f"POST {api}/{name}/start",
        f"GET {api}/{name}/json",
    ]
    assert plan.calls[0].body["Image"] == pm.images["1"]
    assert plan.cli == (
        f"cd /srv/{project} && DOCKER_HOST={pm.base_url} docker compose -p {project} "
        f"-f /srv/{project}/compose.yaml -f <(printf 'services:\\n  web:\\n    image: %s\\n' "
        f"{digest}) up -d --no-deps web"
    )
    [drift] = [w for w in plan.warnings if "docker compose up" in w]
    assert "undoes this rollback" in drift and f"`image: {digest}`" in drift
    assert f"/srv/{project}/compose.yaml" in drift
    assert web(pm, project)[0]["Image"] == pm.images["2"]  # planning changed nothing


def test_an_image_is_named_by_id_digest_or_version_tag_never_by_latest(
    pm: podman.Podman, project: str
) -> None:
    pm.service(project, "web", "2")
    compose = provider(pm, project)
    wanted = pm.images["1"]
    for ref in (wanted, wanted.removeprefix("sha256:")[:12], "localhost/mini:1"):
        plan = compose.preflight("image_rollback", {"service": "web", "image": ref})
        assert plan.data["image"] == wanted, ref
    tagged = compose.preflight(
        "image_rollback", {"image": "localhost/mini", "tag": "1", "service": "web"}
    )
    assert tagged.data["image"] == wanted
    assert any("the rollback uses that id even if the tag moves" in w for w in tagged.warnings)
    for moving in ("localhost/mini:latest", "localhost/mini"):
        with pytest.raises(ProviderError, match="moving tag") as refused:
            compose.preflight("image_rollback", {"service": "web", "image": moving})
        assert wanted in str(refused.value)  # the candidates, by id
    with pytest.raises(ProviderError, match="no image localhost/mini:9 on this Docker host"):
        compose.preflight("image_rollback", {"service": "web", "image": "localhost/mini:9"})
    with pytest.raises(ProviderError, match="already runs"):
        compose.preflight("image_rollback", {"service": "web", "image": pm.images["2"]})


def test_with_no_previous_image_recorded_it_refuses_and_lists_the_local_images(
    pm: podman.Podman, project: str
) -> None:
    pm.service(project, "web", "2")
    compose = provider(pm, project)
    with pytest.raises(ProviderError, match="no previous image recorded for web") as refused:
        compose.preflight("image_rollback", {"service": "web"})
    message = str(refused.value)
    candidate = next(line for line in message.splitlines() if pm.images["1"] in line)
    assert "localhost/mini:1" in candidate and "localhost/mini@sha256:" in candidate
    assert " UTC " in candidate and "created 20" in candidate
    assert pm.images["2"] not in message.split("newest first:")[1]  # not the one it runs
    assert compose.choices("image_rollback", "image", {"service": "web"})[0][0] == pm.images["1"]
    assert web(pm, project)[0]["Image"] == pm.images["2"]


def test_an_unknown_service_or_project_is_refused_by_name(pm: podman.Podman, project: str) -> None:
    pm.service(project, "web", "2")
    pm.service(project, "worker", "2")
    with pytest.raises(ProviderError, match=r"no service 'api' .*\(it has: web, worker\)"):
        provider(pm, project).preflight("image_rollback", {"service": "api"})
    with pytest.raises(ProviderError, match="image_rollback needs service"):
        provider(pm, project).preflight("image_rollback", {})
    with pytest.raises(
        ProviderError,
        match=rf"no containers of compose project 'nosuch' .*projects there: .*{project}",
    ):
        provider(pm, "nosuch").preflight("image_rollback", {"service": "web"})


def test_an_unreachable_engine_fails_fast_and_says_where(tmp_path: Path) -> None:
    refused = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    refused.bind(str(tmp_path / "closed.sock"))  # bound, never listening: refused
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(8)  # accepts, never answers
    cases = [
        (f"unix://{tmp_path}/nothing.sock", ProviderUnavailable, "no such socket"),
        (f"unix://{tmp_path}/closed.sock", ProviderUnavailable, "connection refused"),
        ("tcp://127.0.0.1:1", ProviderUnavailable, "connection refused"),
        (f"unix://{tmp_path}/silent.sock", ProviderTimeout, "no answer .* within 0.5 s"),
    ]
    try:
        for url, kind, words in cases:
            compose = ComposeProvider(
                ComposeOptions(base_url=url, project="shop", timeout_seconds=0.5)
            )
            started = time.monotonic()
            with pytest.raises(kind, match=words) as raised:
                compose.preflight("image_rollback", {"service": "web"})
            assert time.monotonic() - started < 3, url
            assert url in str(raised.value)
    finally:
        refused.close()
        silent.close()


def test_a_container_that_ignores_sigterm_is_killed_after_stop_timeout_and_it_is_said(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    pm.service(project, "web", "2", command=["sh", "-c", "trap '' TERM; sleep 3600"])
    compose = provider(pm, project, stop_timeout=1)
    plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})
    started = time.monotonic()
    result = run(compose, plan, timeline)
    assert result.outcome == "succeeded", result.summary
    assert time.monotonic() - started < 8
    assert any(
        "did not stop on SIGTERM within 1 s; Docker killed it (SIGKILL, exit 137)" in line
        for line in result.transcript
    )
    [after] = web(pm, project)
    assert after["Image"] == pm.images["1"] and after["State"]["Running"]
    assert after["Config"]["Cmd"] == ["sh", "-c", "trap '' TERM; sleep 3600"]  # its own command


def test_a_container_that_will_not_stop_is_left_running_alone_and_the_new_one_removed(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    running = pm.service(project, "web", "2")
    compose = provider(pm, project)
    plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})
    pm.client.api.pause(running.id)  # podman refuses to stop a paused container
    result = run(compose, plan, timeline)
    assert result.outcome == "failed"
    assert f"{project}-web-1 did not stop" in result.summary
    assert "It is paused on " + short(pm.images["2"]) in result.summary
    assert "was removed again, so nothing else changed" in result.summary
    assert [(c["Id"], c["State"]["Status"]) for c in web(pm, project)] == [(running.id, "paused")]
    incident = timeline.incidents()[0].id
    assert [e.kind for e in timeline.events(incident)][-2:] == ["action.intent", "action.result"]


class StallingProxy:
    """A unix socket in front of podman's that never answers POST …/stop: a stuck daemon."""

    def __init__(self, upstream: Path, path: Path) -> None:
        self.upstream, self.path = upstream, path
        self.stalled: list[bytes] = []
        self.sockets: list[socket.socket] = []

    def __enter__(self) -> StallingProxy:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in [self.server, *self.sockets]:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(str(self.upstream))
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                first = chunk.split(b"\r\n", 1)[0]
                if requests and first.startswith(b"POST ") and b"/stop" in first:
                    self.stalled.append(first)
                    return  # swallowed: the client waits for an answer that never comes
                sink.sendall(chunk)


def test_a_stop_that_never_returns_times_out_and_leaves_the_old_container_alone(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    running = pm.service(project, "web", "2")
    with StallingProxy(pm.socket, pm.dir / "stalling.sock") as proxy:
        compose = provider(
            pm, project, base_url=f"unix://{proxy.path}", timeout_seconds=1.0, stop_timeout=1
        )
        plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})
        started = time.monotonic()
        result = run(compose, plan, timeline)
        compose.close()
    assert time.monotonic() - started < 10
    assert len(proxy.stalled) == 1
    assert result.outcome == "failed"
    assert f"{project}-web-1 did not stop: stop {project}-web-1: no answer" in result.summary
    assert "It is running on " + short(pm.images["2"]) in result.summary
    assert "was removed again" in result.summary
    [alone] = web(pm, project)
    assert alone["Id"] == running.id and alone["State"]["Running"]
    assert alone["Image"] == pm.images["2"]


CRASHES = {
    "exits at once": (["sh", "-c", 'test "$VERSION" = 2 && sleep 3600'], None, "exited with 1"),
    "dies after 1 s": (
        ["sh", "-c", 'test "$VERSION" = 2 && sleep 3600; sleep 1; exit 3'],
        None,
        "exited with 3",
    ),
    "unhealthy": (None, ["CMD-SHELL", 'test "$VERSION" = 2'], "is unhealthy"),
}


@pytest.mark.parametrize("how", list(CRASHES))
def test_a_rollback_onto_an_image_that_fails_is_not_verified(
    pm: podman.Podman, project: str, timeline: Timeline, how: str
) -> None:
    """mini:1 sets VERSION=1; this service only keeps running (or healthy) with VERSION=2.

    A container that starts and dies a second later must not pass: verify wants each to keep
    running, unrestarted, for settle_seconds."""
    command, healthcheck, words = CRASHES[how]
    pm.service(project, "web", "2", command=command, healthcheck=healthcheck)
    compose = provider(pm, project, settle_seconds=3.0)
    plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})
    with healthchecks(pm, f"{project}-web-1"):
        result = run(compose, plan, timeline)
    assert result.outcome == "failed" and not result.verified
    assert result.summary.startswith("Not verified") and words in result.summary
    [after] = web(pm, project)
    assert after["Image"] == pm.images["1"]  # the change was made; verify says it did not take


def test_every_replica_is_recreated_in_turn(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    for n in (1, 2):
        pm.service(project, "web", "2", number=n)
    compose = provider(pm, project)
    plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})
    assert len(plan.calls) == 12
    result = run(compose, plan, timeline)
    assert result.outcome == "succeeded", result.summary
    after = sorted(web(pm, project), key=lambda c: c["Name"])
    assert [(c["Name"], c["Image"]) for c in after] == [
        (f"/{project}-web-1", pm.images["1"]),
        (f"/{project}-web-2", pm.images["1"]),
    ]


def test_ssh_urls_use_the_ssh_client_and_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "ssh://deploy@db1.example:2222"
    assert ComposeOptions(project="shop", base_url=url).base_url == url
    for bad, words in [
        ("/var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("http://127.0.0.1:2375", "unix://, tcp:// or ssh://"),
        ("ssh://", "names a host"),
    ]:
        with pytest.raises(ValidationError, match=words):
            ComposeOptions(project="shop", base_url=bad)
    with pytest.raises(ValidationError, match="not a Compose project name"):
        ComposeOptions(project="My App")

    monkeypatch.setattr(engine, "has_paramiko", lambda: False)
    with pytest.raises(ProviderError, match=r"ssh:// needs paramiko.*docker\[ssh\]"):
        ComposeProvider(ComposeOptions(project="shop", base_url=url)).health()

    import docker

    made: list[dict[str, Any]] = []
    checked: list[tuple[str, float]] = []
    monkeypatch.setattr(engine, "has_paramiko", lambda: True)
    monkeypatch.setattr(engine, "check_ssh", lambda u, t: checked.append((u, t)))
    monkeypatch.setattr(docker, "APIClient", lambda **kwargs: made.append(kwargs) or object())
    assert ComposeProvider(ComposeOptions(project="shop", base_url=url, timeout_seconds=7)).api
    assert checked == [(url, 7)]
    assert made == [{"base_url": url, "version": "1.41", "timeout": 7, "use_ssh_client": True}]


def test_the_ssh_check_fails_fast_without_prompting() -> None:
    if not shutil.which("ssh"):
        pytest.skip("needs an ssh client (openssh-client)")
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match=r"docker version` failed: .*Connection refused"):
        check_ssh("ssh://nobody@127.0.0.1:1", 2)
    assert time.monotonic() - started < 5


def test_the_replacement_inherits_dockers_anonymous_volumes_and_not_the_old_images_config() -> None:
    """Docker (unlike podman) lists anonymous volumes in Mounts only; an inspect shaped like
    Docker's for a Compose v2 container: a Mounts volume without Source, an image VOLUME, two
    networks (API 1.41 takes one at create, the other is connected before start)."""
    old_id, target = "abcdef123456" + "0" * 52, "sha256:" + "1" * 64
    old = {
        "Id": old_id,
        "Name": "/shop-web-1",
        "Image": "sha256:" + "2" * 64,
        "Config": {
            "Hostname": "abcdef123456",
            "Env": ["MODE=prod", "VERSION=2", "PATH=/bin", "HOSTNAME=abcdef123456"],
            "Cmd": ["serve"],
            "Entrypoint": None,
            "WorkingDir": "/app",
            "Labels": {"com.docker.compose.service": "web", "version": "2", "team": "core"},
            "Volumes": {"/cache": {}},
            "ExposedPorts": {"80/tcp": {}},
        },
        "HostConfig": {
            "NetworkMode": "shop_default",
            "Binds": ["/srv/shop/conf:/conf:ro"],
            "Mounts": [
                {"Type": "volume", "Target": "/data"},
                {"Type": "volume", "Source": "shop_db", "Target": "/db"},
            ],
        },
        "Mounts": [
            {"Type": "bind", "Source": "/srv/shop/conf", "Destination": "/conf", "RW": False},
            {"Type": "volume", "Name": "a" * 64, "Destination": "/data", "RW": True},
            {"Type": "volume", "Name": "shop_db", "Destination": "/db", "RW": True},
            {"Type": "volume", "Name": "c" * 64, "Destination": "/cache", "RW": False},
        ],
        "NetworkSettings": {
            "Networks": {
                "shop_back": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.1.0.5"}},
                "shop_default": {"Aliases": ["shop-web-1", "web", "abcdef123456"]},
            }
        },
    }
    image = {
        "Env": ["PATH=/bin", "VERSION=2"],
        "Cmd": ["serve"],
        "WorkingDir": "/app",
        "Labels": {"version": "2"},
        "Volumes": {"/cache": {}},
        "ExposedPorts": {"80/tcp": {}},
    }
    body, extra = recreate_body(old, image, target)
    assert body["Image"] == target and body["Env"] == ["MODE=prod"]
    assert not {"Cmd", "WorkingDir", "Hostname", "Volumes", "ExposedPorts"} & set(body)
    assert body["Labels"] == {
        "com.docker.compose.service": "web",
        "team": "core",
        IMAGE: target,
        REPLACE: "shop-web-1",
    }
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "volume", "Target": "/data", "Source": "a" * 64},
        {"Type": "volume", "Source": "shop_db", "Target": "/db"},
    ]
    assert body["HostConfig"]["Binds"] == ["/srv/shop/conf:/conf:ro", f"{'c' * 64}:/cache:ro"]
    assert body["NetworkingConfig"] == {
        "EndpointsConfig": {"shop_default": {"Aliases": ["shop-web-1", "web"]}}
    }
    assert extra == {"shop_back": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.1.0.5"}}}


def test_a_cancel_while_the_new_container_is_created_removes_it_and_changes_nothing(
    pm: podman.Podman, project: str, timeline: Timeline
) -> None:
    running = pm.service(project, "web", "2")
    compose = provider(pm, project)
    plan = compose.preflight("image_rollback", {"service": "web", "image": pm.images["1"]})

    def cancel_on_create(line: str, fraction: float | None) -> None:
        if ": create " in line:
            report.cancel()

    report = Report(cancel_on_create)
    incident = timeline.open_incident("compose", "P1", "ai-saas")
    recorder = TimelineRecorder(timeline, incident.id)
    result = action_runner.run(compose, plan, plan.target, recorder, report)
    assert result.outcome == "cancelled"
    assert "(never started) was removed again, nothing changed" in result.summary
    assert [(c["Id"], c["State"]["Running"]) for c in web(pm, project)] == [(running.id, True)]
