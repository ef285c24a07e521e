"""The Kubernetes simulator, proven by the real kubectl 1.32 and checked over HTTP on a fake clock.

The kubectl tests run the binary against the simulator over TLS (kubectl sends its token only
over TLS) with a kubeconfig in tmp_path, and assert kubectl's own output: that is the evidence
the simulator serves what kubectl reads (discovery, ReplicaSets owned by the Deployment with
renumbered revisions, status conditions, the scale subresource, watches). The rollout tests are
quick and real-time (0.3 s); TABLE, also in the simulator's docstring, runs kubectl commands on
a FakeClock and holds each to the exit code and output a real API server gives, refusals
included; watches and followed logs are read while they stay open, within bounded waits.
Everything else runs on a FakeClock through httpx.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import subprocess
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_time import FakeClock

from cockpit.simulators import kubernetes
from cockpit.simulators.kubernetes import KubernetesSimulator
from cockpit.simulators.kubernetes_objects import (
    PatchError,
    json_patch,
    merge_patch,
    parse_selector,
    selector_matches,
    strategic_merge,
)

TOKEN = "k8s-test-token"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
REPLICASETS = "/apis/apps/v1/namespaces/default/replicasets"
REVISION = "deployment.kubernetes.io/revision"
KUBECTL = shutil.which("kubectl")


# -- the real kubectl -------------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str


Kubectl = Callable[..., Ran]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One self-signed certificate for the module's simulators (openssl runs once)."""
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def cluster(certificates: Path) -> Iterator[KubernetesSimulator]:
    simulator = KubernetesSimulator(token=TOKEN, ready_seconds=0.3)
    simulator.serve_tls(certificates)
    with simulator:
        yield simulator


@pytest.fixture
def kubectl(cluster: KubernetesSimulator, tmp_path: Path) -> Kubectl:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    config = cluster.kubeconfig(tmp_path / "kubeconfig")
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "cache"),
    }

    def run(*args: str, timeout: float = 30) -> Ran:
        done = subprocess.run(
            [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=timeout
        )
        return Ran(done.returncode, done.stdout + done.stderr)

    return run


def manifest(
    tmp_path: Path, image: str, *, cause: str | None = None, deadline: int | None = None
) -> str:
    """deploy.yaml for web running `image`, with a change-cause annotation."""
    cause = cause or f"deploy {image}"
    extra = f"progressDeadlineSeconds: {deadline}" if deadline else ""
    path = tmp_path / f"deploy-{image.replace(':', '-')}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              annotations:
                kubernetes.io/change-cause: "{cause}"
            spec:
              replicas: 3
              {extra}
              selector:
                matchLabels: {{app: web}}
              template:
                metadata:
                  labels: {{app: web}}
                spec:
                  containers:
                  - name: web
                    image: "{image}"
                    ports: [{{containerPort: 8080}}]
            """)
    )
    return str(path)


def history_rows(out: str) -> list[tuple[str, str]]:
    """The REVISION / CHANGE-CAUSE table of `kubectl rollout history`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("REVISION"))
    rows = [line.split(None, 1) for line in lines[start + 1 :] if line.strip()]
    return [(row[0], row[1].strip()) for row in rows]


def test_kubectl_apply_history_and_undo_renumber_revisions(
    kubectl: Kubectl, cluster: KubernetesSimulator, tmp_path: Path
) -> None:
    assert kubectl("apply", "-f", manifest(tmp_path, "web:1")).out.strip() == (
        "deployment.apps/web created"
    )
    for image in ("web:2", "web:3"):
        assert (
            "deployment.apps/web configured"
            in kubectl("apply", "-f", manifest(tmp_path, image)).out
        )
    history = kubectl("rollout", "history", "deployment/web")
    assert history.code == 0 and history.out.startswith("deployment.apps/web")
    assert history_rows(history.out) == [
        ("1", "deploy web:1"),
        ("2", "deploy web:2"),
        ("3", "deploy web:3"),
    ]

    undo = kubectl("rollout", "undo", "deployment/web")
    assert (undo.code, undo.out.strip()) == (0, "deployment.apps/web rolled back")
    # revision 2's ReplicaSet now serves as revision 4: 2 leaves the history, as in Kubernetes
    assert history_rows(kubectl("rollout", "history", "deployment/web").out) == [
        ("1", "deploy web:1"),
        ("3", "deploy web:3"),
        ("4", "deploy web:2"),
    ]
    assert (
        cluster.deployment("web")["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    )

    to_first = kubectl("rollout", "undo", "deployment/web", "--to-revision=1")
    assert to_first.out.strip() == "deployment.apps/web rolled back"
    revisions = history_rows(kubectl("rollout", "history", "deployment/web").out)
    assert [rev for rev, _ in revisions] == ["3", "4", "5"]
    assert cluster.history("web")[-1] == (5, "deploy web:1", "web:1")
    annotations = {
        rs["metadata"]["annotations"][REVISION]: rs["metadata"]["annotations"]
        for rs in cluster.cluster.owned(cluster.deployment("web"))
    }
    assert annotations["5"]["deployment.kubernetes.io/revision-history"] == "1"
    assert annotations["4"]["deployment.kubernetes.io/revision-history"] == "2"

    same = kubectl("rollout", "undo", "deployment/web", "--to-revision=5")
    assert same.out.strip() == (
        "deployment.apps/web skipped rollback (current template already matches revision 5)"
    )
    missing = kubectl("rollout", "undo", "deployment/web", "--to-revision=9")
    assert missing.code == 1
    assert missing.out.strip() == "error: unable to find specified revision 9 in history"
    shown = kubectl("rollout", "history", "deployment/web", "--revision=4")
    assert "deployment.apps/web with revision #4" in shown.out and "Image:\tweb:2" in shown.out


def test_kubectl_rollout_status_waits_until_the_rollout_is_available(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("apply", "-f", manifest(tmp_path, "web:1"))
    status = kubectl("rollout", "status", "deployment/web", "--timeout=10s")
    assert status.code == 0, status.out
    assert 'Waiting for deployment "web" rollout to finish:' in status.out
    assert status.out.strip().endswith('deployment "web" successfully rolled out')
    got = kubectl("get", "deployment", "web").out.splitlines()
    assert got[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert got[1].split()[:4] == ["web", "3/3", "3", "3"]


def test_kubectl_rollout_status_fails_past_the_progress_deadline(
    kubectl: Kubectl, cluster: KubernetesSimulator, tmp_path: Path
) -> None:
    kubectl("apply", "-f", manifest(tmp_path, "web:1"))
    cluster.settle()
    cluster.broken_images.add("web:bad")
    kubectl("apply", "-f", manifest(tmp_path, "web:bad", deadline=1))
    status = kubectl("rollout", "status", "deployment/web", "--timeout=10s")
    assert status.code == 1
    # maxSurge 25 % of 3 is one new pod, which never becomes ready; the old three keep serving
    assert "1 out of 3 new replicas have been updated" in status.out
    assert status.out.strip().endswith('error: deployment "web" exceeded its progress deadline')
    assert kubectl("get", "deployment", "web").out.splitlines()[1].split()[:4] == [
        "web",
        "3/3",
        "1",
        "3",
    ]
    undo = kubectl("rollout", "undo", "deployment/web")
    assert undo.out.strip() == "deployment.apps/web rolled back"
    assert kubectl("rollout", "status", "deployment/web", "--timeout=10s").code == 0


def test_kubectl_scale_uses_the_scale_subresource(
    kubectl: Kubectl, cluster: KubernetesSimulator, tmp_path: Path
) -> None:
    kubectl("apply", "-f", manifest(tmp_path, "web:1"))
    scaled = kubectl("scale", "deployment/web", "--replicas=5")
    assert (scaled.code, scaled.out.strip()) == (0, "deployment.apps/web scaled")
    patch = [r for r in cluster.requests if r.method == "PATCH"][-1]
    assert patch.path.endswith("/deployments/web/scale") and patch.body == {"spec": {"replicas": 5}}
    assert patch.headers["content-type"] == "application/merge-patch+json"
    refused = kubectl("scale", "deployment/web", "--replicas=2", "--current-replicas=3")
    assert (refused.code, refused.out.strip()) == (1, "error: Expected replicas to be 3, was 5")
    cluster.settle()
    assert cluster.deployment("web")["status"]["availableReplicas"] == 5
    assert len(cluster.history("web")) == 1  # scaling makes no revision


def test_kubectl_refuses_to_undo_a_paused_deployment(
    kubectl: Kubectl, cluster: KubernetesSimulator, tmp_path: Path
) -> None:
    kubectl("apply", "-f", manifest(tmp_path, "web:1"))
    kubectl("apply", "-f", manifest(tmp_path, "web:2"))
    assert kubectl("rollout", "pause", "deployment/web").out.strip() == "deployment.apps/web paused"
    kubectl("apply", "-f", manifest(tmp_path, "web:3"))
    assert len(cluster.history("web")) == 2  # paused: the new template is not rolled out
    undo = kubectl("rollout", "undo", "deployment/web")
    assert undo.code == 1
    assert undo.out.strip() == (
        "error: you cannot rollback a paused deployment; resume it first with "
        "'kubectl rollout resume' and try again"
    )
    resumed = kubectl("rollout", "resume", "deployment/web")
    assert resumed.out.strip() == "deployment.apps/web resumed"
    assert [cause for _, cause, _ in cluster.history("web")] == [
        "deploy web:1",
        "deploy web:2",
        "deploy web:3",
    ]


def test_kubectl_sees_kubernetes_errors(kubectl: Kubectl, cluster: KubernetesSimulator) -> None:
    missing = kubectl("rollout", "undo", "deployment/nope")
    assert missing.code == 1
    assert missing.out.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    cluster.token = "rotated"
    refused = kubectl("get", "deployments")
    assert refused.out.strip().endswith("error: You must be logged in to the server (Unauthorized)")


# -- the table: what a real API server answers kubectl, command by command ----------------------

OLD = "web-7bd485c9ff"  # the ReplicaSet of web:1 (names are the pod-template-hash: stable)
NEW = "web-7b8c7687c6"  # of web:2
BAD = "web-7f797966b7"  # of web:bad, an image whose pods never start (ImagePullBackOff)
STRICT = "strict decoding error: unknown field"
NOT_FOUND = "Error from server (NotFound): the server could not find the requested resource"
UNKNOWN_FORMAT = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json"
)
TABLE: list[tuple[str, int, str]] = [
    # pods owned by the current ReplicaSet, readiness on the simulator's clock
    ("kubectl get pods", 0, "1/1 Running 0"),
    ("kubectl get pods", 0, "READY STATUS RESTARTS AGE web-7bd485c9ff-"),
    ("kubectl get deploy,rs,pods", 0, f"replicaset.apps/{OLD} 3 3 3"),
    ("kubectl get pods -l pod-template-hash=7bd485c9ff -o name", 0, f"pod/{OLD}-"),
    ("kubectl set image deployment/web web=web:2 ; kubectl get rs " + NEW, 0, f"{NEW} 1 1 0"),
    ("kubectl set image deployment/web web=web:2 ; kubectl get pods", 0, "0/1 ContainerCreating"),
    ("kubectl set image deployment/web web=web:2 ; wait 5 ; kubectl get rs", 0,
     f"{NEW} 2 2 1"),
    ("kubectl set image deployment/web web=web:2 ; wait 10 ; kubectl get rs", 0,
     f"{NEW} 3 3 3 "),
    (f"kubectl delete rs {OLD} ; kubectl get rs {OLD}", 0, f"{OLD} 3 3 0"),
    (f"kubectl delete rs {OLD} ; wait 5 ; kubectl get rs {OLD}", 0, f"{OLD} 3 3 1"),
    ("kubectl set image deployment/web web=web:bad ; wait 60 ; kubectl get pods", 0,
     "0/1 ImagePullBackOff"),
    # events: the controllers' and the kubelet's
    ("kubectl describe deployment web", 0,
     f"deployment-controller Scaled up replica set {OLD} from 0 to 3"),
    ("kubectl scale deployment/web --replicas=5 ; kubectl describe deployment web", 0,
     f"Scaled up replica set {OLD} from 3 to 5"),
    ("kubectl set image deployment/web web=web:2 ; wait 10 ; kubectl describe deployment web", 0,
     f"Scaled down replica set {OLD} from 1 to 0"),
    (f"kubectl describe rs {OLD}", 0, f"replicaset-controller Created pod: {OLD}-"),
    ("kubectl describe pods -l app=web", 0, "kubelet Started container web"),
    ("kubectl set image deployment/web web=web:bad ; "
     "kubectl describe pods -l pod-template-hash=7f797966b7", 0,
     'kubelet Back-off pulling image "web:bad"'),
    ("kubectl get events --field-selector reason=ScalingReplicaSet", 0,
     f"Normal ScalingReplicaSet deployment/web Scaled up replica set {OLD} from 0 to 3"),
    ("kubectl get events --field-selector spec.foo=bar", 1, "field label not supported: spec.foo"),
    # deletion propagation
    ("kubectl delete deployment web ; kubectl get deployments", 0,
     "No resources found in default namespace."),
    ("kubectl delete deployment web --cascade=foreground ; kubectl get rs,pods", 0,
     "No resources found in default namespace."),
    ("kubectl delete deployment web --cascade=orphan", 0, 'deployment.apps "web" deleted'),
    ("kubectl delete deployment web --cascade=orphan ; kubectl get rs,pods", 0,
     f"replicaset.apps/{OLD} 3 3 3"),
    ("kubectl delete deployment web --cascade=orphan ; "
     "kubectl get rs -o custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences", 0,
     f"NAME OWNER {OLD} <none>"),
    ("kubectl delete deployment web --cascade=orphan ; kubectl apply -f web.yaml ; "
     "kubectl get rs -o custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind",
     0, f"NAME OWNER {OLD} Deployment"),
    # strict field validation (kubectl sends fieldValidation=Strict)
    ("kubectl apply -f unknown-field.yaml", 1,
     'Error from server (BadRequest): error when creating "unknown-field.yaml": Deployment in '
     f'version "v1" cannot be handled as a Deployment: {STRICT} "spec.foo"'),
    ("kubectl apply -f web.yaml ; kubectl apply -f web-unknown-field.yaml", 1,
     f'error when patching "web-unknown-field.yaml": {STRICT} '
     '"spec.template.spec.containers[0].imagePolicy"'),
    ("kubectl replace -f web-unknown-field.yaml", 1,
     f'cannot be handled as a Deployment: {STRICT} "spec.template.spec.containers[0].imagePolicy"'),
    ("kubectl apply -f unknown-field.yaml --validate=warn", 0,
     'Warning: unknown field "spec.foo"'),
    ("kubectl apply -f unknown-field.yaml --validate=false", 0, "deployment.apps/api created"),
    # 422 Invalid with details.causes: kubectl prints the field
    ("kubectl patch deployment web -p '{\"spec\":{\"replicas\":-1}}'", 1,
     'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or '
     "equal to 0"),
    ("kubectl patch deployment web --type=json "
     "-p '[{\"op\":\"replace\",\"path\":\"/spec/template/metadata/labels\","
     "\"value\":{\"app\":\"x\"}}]'",
     1, 'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: '
     'map[string]string{"app":"x"}: `selector` does not match template `labels`'),
    ("kubectl patch deployment web --patch-file selector-patch.yaml", 1,
     'The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
     'map[string]string{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
     "field is immutable"),
    ("kubectl patch deployment web --patch-file selector-only-patch.yaml", 1,
     'The Deployment "web" is invalid: * spec.template.metadata.labels: Invalid value: '
     'map[string]string{"app":"web"}: `selector` does not match template `labels` '
     "* spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
     '{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'),
    # pod logs
    ("kubectl logs deployment/web", 0, "Found 3 pods, using pod/web-7bd485c9ff-"),
    ("kubectl logs deployment/web", 0, "starting web:1"),
    ("kubectl logs deployment/web --tail=1", 0, "ready: serving traffic"),
    ("kubectl logs deployment/web --tail=1 --timestamps", 0, ".000000002Z ready: serving traffic"),
    ("kubectl logs deployment/web --previous", 1, 'previous terminated container "web" in pod'),
    ("kubectl set image deployment/web web=web:bad ; kubectl logs -l pod-template-hash=7f797966b7",
     1, 'is waiting to start: trying and failing to pull image'),
    # what is not served is refused, as a real server refuses
    ("kubectl apply --server-side -f web.yaml", 1,
     "error: Server-side apply not available on the server: (the body of the request was in an "
     "unknown format - accepted media types include: application/json-patch+json, "
     "application/merge-patch+json, application/strategic-merge-patch+json)"),
    ("kubectl create deployment api --image=api:1", 1,
     f"error: failed to create deployment: {UNKNOWN_FORMAT}"),
    ("kubectl auth can-i delete deployments", 1,
     f"Error from server (UnsupportedMediaType): {UNKNOWN_FORMAT}"),
    ("kubectl api-resources --no-headers", 0,
     "events ev v1 true Event namespaces ns v1 false Namespace pods po v1 true Pod deployments "
     "deploy apps/v1 true Deployment replicasets rs apps/v1 true ReplicaSet"),
    (f"kubectl patch rs {OLD} -p '{{\"spec\":{{\"replicas\":1}}}}'", 1,
     "Error from server (MethodNotAllowed): the server does not allow this method on the "
     "requested resource"),
    (f"kubectl scale rs {OLD} --replicas=1", 1, NOT_FOUND),
    ("kubectl delete pods -l app=web", 1,
     "Error from server (MethodNotAllowed): the server does not allow this method on the "
     "requested resource"),
    ("kubectl exec deployment/web -- ls", 1, NOT_FOUND),
    ("kubectl get namespaces", 0, "NAME STATUS AGE default Active"),
    ("kubectl apply -n nope -f web.yaml", 1,
     'Error from server (NotFound): error when creating "web.yaml": namespaces "nope" not found'),
    ("kubectl explain deployment", 1,
     "error: GVK map[group:apps kind:Deployment version:v1] not found in OpenAPI schema"),
    ("kubectl get --raw /apis/batch/v1", 1, NOT_FOUND),
    ("kubectl get --raw /healthz", 0, "ok"),
    ("kubectl get --raw /readyz", 0, "ok"),
    ("kubectl get --raw /livez?verbose", 0, "[+]ping ok"),
    # watches stay open (until kubectl's --request-timeout here) and stream Table rows
    ("kubectl get deployment web -w --request-timeout=2s", 0,
     "NAME READY UP-TO-DATE AVAILABLE AGE web 3/3 3 3"),
]  # fmt: skip
"""kubectl commands (` ; ` between steps, `wait N`: the simulator's clock moves N s), the exit
code of the last one and its output (or a distinctive part of it, whitespace collapsed): what a
real API server makes kubectl print. The same table is in the simulator's module docstring."""

WEB_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1"}]
"""


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def seeded(certificates: Path) -> Iterator[tuple[KubernetesSimulator, FakeClock]]:
    """web at web:1 (3 ready pods), web:bad broken; on a clock only the table moves."""
    clock = FakeClock()
    simulator = KubernetesSimulator(token=TOKEN, clock=clock, ready_seconds=10)
    simulator.serve_tls(certificates)
    with simulator:
        simulator.add_deployment("web", "web:1")
        simulator.broken_images.add("web:bad")
        yield simulator, clock


def shell(simulator: KubernetesSimulator, tmp_path: Path) -> Callable[[str, float], Ran]:
    """Runs one `kubectl ...` command line in tmp_path against the simulator."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    config = simulator.kubeconfig(tmp_path / "kubeconfig")
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "cache"),
    }

    def run(line: str, timeout: float = 30) -> Ran:
        args = shlex.split(line)
        assert args[0] == "kubectl"
        done = subprocess.run(
            [str(KUBECTL), *args[1:]],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        return Ran(done.returncode, done.stdout + done.stderr)

    return run


@pytest.mark.parametrize(("commands", "code", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_kubectl_prints_what_a_real_server_makes_it_print(
    seeded: tuple[KubernetesSimulator, FakeClock],
    tmp_path: Path,
    commands: str,
    code: int,
    expected: str,
) -> None:
    simulator, clock = seeded
    (tmp_path / "web.yaml").write_text(WEB_YAML)
    (tmp_path / "unknown-field.yaml").write_text(
        WEB_YAML.replace("web", "api").replace("  replicas: 3", "  replicas: 3\n  foo: 1")
    )
    (tmp_path / "selector-patch.yaml").write_text(
        "spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}}}"
    )
    (tmp_path / "selector-only-patch.yaml").write_text("spec: {selector: {matchLabels: {app: x}}}")
    (tmp_path / "web-unknown-field.yaml").write_text(
        WEB_YAML.replace('image: "web:1"', 'image: "web:1", imagePolicy: Always')
    )
    run = shell(simulator, tmp_path)
    *steps, last = commands.split(" ; ")
    for step in steps:
        if step.startswith("wait "):
            clock.advance(float(step.split()[1]))
            continue
        before = run(step)
        assert before.code == 0, before.out
    ran = run(last)
    assert (ran.code, squash(expected) in squash(ran.out)) == (code, True), ran.out


def test_the_table_is_in_the_simulators_documentation() -> None:
    documented = squash(kubernetes.__doc__ or "")
    for commands, code, expected in TABLE:
        assert squash(f"$ {commands} → {code}: {expected}") in documented
    assert documented.count("$ kubectl") == len(TABLE)


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout, line by line, read by a thread (so a test can wait boundedly)."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(squash(line))

    threading.Thread(target=read, daemon=True).start()
    return found


def wait_for(found: queue.Queue[str], wanted: str, seconds: float = 10) -> list[str]:
    """Lines until one contains `wanted` (failing after `seconds`)."""
    seen: list[str] = []
    while not any(wanted in line for line in seen):
        try:
            seen.append(found.get(timeout=seconds))
        except queue.Empty:
            pytest.fail(f"no {wanted!r} within {seconds} s; saw {seen}")
    return seen


def test_kubectl_get_watch_stays_open_and_streams_table_rows(
    seeded: tuple[KubernetesSimulator, FakeClock], tmp_path: Path
) -> None:
    simulator, clock = seeded
    run = shell(simulator, tmp_path)
    config = tmp_path / "kubeconfig"
    command = [str(KUBECTL), "--kubeconfig", str(config), "get", "deployment", "web", "-w"]
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "cache")}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as watching:
        try:
            found = lines_of(watching)
            first = wait_for(found, "web 3/3 3 3")
            assert first[0] == "NAME READY UP-TO-DATE AVAILABLE AGE"
            assert run("kubectl scale deployment/web --replicas=5").code == 0
            wait_for(found, "web 3/5 5 3")  # two new pods, not ready yet
            assert watching.poll() is None, "the watch is still open"
            clock.advance(10)
            wait_for(found, "web 5/5 5 5")
            assert watching.poll() is None
        finally:
            watching.kill()


def test_kubectl_logs_follow_stays_open(
    seeded: tuple[KubernetesSimulator, FakeClock], tmp_path: Path
) -> None:
    simulator, _ = seeded
    simulator.pod_logs["web:1"] = ["GET /health 200", "GET /api/messages 200 in 12ms"]
    shell(simulator, tmp_path)  # the kubeconfig
    command = [str(KUBECTL), "--kubeconfig", str(tmp_path / "kubeconfig"), "logs", "-f",
               "deployment/web"]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "cache")}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as following:
        try:
            seen = wait_for(lines_of(following), "GET /api/messages 200 in 12ms")
            assert seen[0].endswith("GET /health 200")
            assert following.poll() is None, "a followed log stays open"
        finally:
            following.kill()


# -- over HTTP on a fake clock ----------------------------------------------------------------


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(fake_clock: FakeClock) -> Iterator[KubernetesSimulator]:
    simulator = KubernetesSimulator(
        token=TOKEN, clock=fake_clock, ready_seconds=10, watch_seconds=0.2
    )
    with simulator:
        simulator.add_deployment("web", "web:1", change_cause="first")
        yield simulator


@pytest.fixture
def api(sim: KubernetesSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5) as client:
        yield client


def patch(api: httpx.Client, path: str, body: Any, media: str) -> httpx.Response:
    return api.patch(path, content=json.dumps(body), headers={"Content-Type": media})


SMP = "application/strategic-merge-patch+json"


def test_a_template_change_makes_an_owned_replicaset_and_rolls_out_over_time(
    sim: KubernetesSimulator, api: httpx.Client, fake_clock: FakeClock
) -> None:
    before = api.get(f"{DEPLOYMENTS}/web").json()
    changed = patch(
        api,
        f"{DEPLOYMENTS}/web",
        {
            "metadata": {"annotations": {"kubernetes.io/change-cause": "second"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}},
        },
        SMP,
    ).json()
    assert changed["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert changed["metadata"]["annotations"][REVISION] == "2"
    status = changed["status"]
    assert status["observedGeneration"] == changed["metadata"]["generation"]
    assert status["updatedReplicas"] == 1 and status["replicas"] == 4  # maxSurge: one new pod
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ReplicaSetUpdated"

    selector = {"labelSelector": "app=web"}
    owned = api.get(REPLICASETS, params=selector).json()["items"]
    new = next(rs for rs in owned if rs["metadata"]["annotations"][REVISION] == "2")
    assert new["metadata"]["name"].startswith("web-")
    hash_label = new["metadata"]["labels"]["pod-template-hash"]
    assert new["metadata"]["name"] == f"web-{hash_label}"
    assert new["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": changed["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert new["metadata"]["annotations"]["kubernetes.io/change-cause"] == "second"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in new["metadata"]["annotations"]

    fake_clock.advance(10)
    done = api.get(f"{DEPLOYMENTS}/web").json()["status"]
    assert (done["replicas"], done["updatedReplicas"], done["availableReplicas"]) == (3, 3, 3)
    assert {c["type"]: c["reason"] for c in done["conditions"]} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert sim.history("web") == [(1, "first", "web:1"), (2, "second", "web:2")]


def test_an_undo_reuses_the_old_replicaset_and_renumbers_its_revision(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    sim.set_image("web", "web:2", change_cause="second")
    sim.set_image("web", "web:3", change_cause="third")
    old = next(
        rs
        for rs in api.get(REPLICASETS).json()["items"]
        if rs["metadata"]["annotations"][REVISION] == "2"
    )
    body = [
        {"op": "replace", "path": "/spec/template", "value": old["spec"]["template"]},
        {"op": "replace", "path": "/metadata/annotations", "value": {}},
    ]
    assert patch(api, f"{DEPLOYMENTS}/web", body, "application/json-patch+json").status_code == 200
    reused = api.get(f"{REPLICASETS}/{old['metadata']['name']}").json()
    assert reused["metadata"]["annotations"][REVISION] == "4"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    assert [rev for rev, _, _ in sim.history("web")] == [1, 3, 4]
    assert len(api.get(REPLICASETS).json()["items"]) == 3  # no new ReplicaSet


def test_a_broken_image_exceeds_the_progress_deadline(
    sim: KubernetesSimulator, api: httpx.Client, fake_clock: FakeClock
) -> None:
    sim.broken_images.add("web:bad")
    patch(api, f"{DEPLOYMENTS}/web", {"spec": {"progressDeadlineSeconds": 60}}, SMP)
    sim.set_image("web", "web:bad")
    fake_clock.advance(59)
    status = api.get(f"{DEPLOYMENTS}/web").json()["status"]
    assert next(c for c in status["conditions"] if c["type"] == "Progressing")["status"] == "True"
    fake_clock.advance(2)
    status = api.get(f"{DEPLOYMENTS}/web").json()["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert status["availableReplicas"] == 3 and status["updatedReplicas"] == 1  # old pods serve


def test_a_paused_deployment_gets_no_new_replicaset(
    sim: KubernetesSimulator, api: httpx.Client, fake_clock: FakeClock
) -> None:
    patch(api, f"{DEPLOYMENTS}/web", {"spec": {"paused": True}}, SMP)
    sim.set_image("web", "web:2")
    fake_clock.advance(100)
    assert len(api.get(REPLICASETS).json()["items"]) == 1
    conditions = api.get(f"{DEPLOYMENTS}/web").json()["status"]["conditions"]
    assert next(c for c in conditions if c["type"] == "Progressing")["reason"] == "DeploymentPaused"
    patch(api, f"{DEPLOYMENTS}/web", {"spec": {"paused": None}}, SMP)
    assert len(api.get(REPLICASETS).json()["items"]) == 2


def test_observed_generation_lags_when_asked(fake_clock: FakeClock) -> None:
    with KubernetesSimulator(token=TOKEN, clock=fake_clock, observe_seconds=5) as sim:
        sim.add_deployment("web", "web:1")
        fake_clock.advance(5)
        assert sim.deployment("web")["status"]["observedGeneration"] == 1
        sim.set_image("web", "web:2")
        status = sim.deployment("web")
        assert (status["status"]["observedGeneration"], status["metadata"]["generation"]) == (1, 2)
        assert len(sim.history("web")) == 1
        fake_clock.advance(5)
        status = sim.deployment("web")
        assert status["status"]["observedGeneration"] == status["metadata"]["generation"]
        assert len(sim.history("web")) == 2


def test_old_replicasets_beyond_the_history_limit_are_removed(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    patch(api, f"{DEPLOYMENTS}/web", {"spec": {"revisionHistoryLimit": 1}}, SMP)
    for n in (2, 3, 4):
        sim.set_image("web", f"web:{n}")
    assert [rev for rev, _, _ in sim.history("web")] == [3, 4]


def test_the_scale_subresource(sim: KubernetesSimulator, api: httpx.Client) -> None:
    scale = api.get(f"{DEPLOYMENTS}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3} and scale["status"]["selector"] == "app=web"
    scaled = patch(
        api, f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 6}}, "application/merge-patch+json"
    )
    assert scaled.json()["spec"] == {"replicas": 6}
    stale = {**scale, "spec": {"replicas": 1}}
    conflict = api.put(f"{DEPLOYMENTS}/web/scale", json=stale)
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"
    assert sim.deployment("web")["spec"]["replicas"] == 6


def test_selectors_pick_each_deployments_replicasets(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    sim.add_deployment("api", "api:1")
    sim.add_deployment("web", "web:1", namespace="staging")
    names = [rs["metadata"]["name"] for rs in api.get(REPLICASETS).json()["items"]]
    assert len(names) == 2
    only_api = api.get(REPLICASETS, params={"labelSelector": "app in (api, x),!canary"}).json()
    assert [rs["metadata"]["labels"]["app"] for rs in only_api["items"]] == ["api"]
    by_name = api.get(DEPLOYMENTS, params={"fieldSelector": "metadata.name=web"}).json()
    assert [d["metadata"]["name"] for d in by_name["items"]] == ["web"]
    everywhere = api.get("/apis/apps/v1/deployments").json()["items"]
    assert sorted(d["metadata"]["namespace"] for d in everywhere) == [
        "default",
        "default",
        "staging",
    ]


def test_errors_are_kubernetes_status_objects(sim: KubernetesSimulator, api: httpx.Client) -> None:
    missing = api.get(f"{DEPLOYMENTS}/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }
    unauthorized = httpx.get(f"{sim.url}{DEPLOYMENTS}", headers={"Authorization": "Bearer x"})
    assert unauthorized.status_code == 401 and unauthorized.json()["reason"] == "Unauthorized"
    current = api.get(f"{DEPLOYMENTS}/web").json()
    current["metadata"]["resourceVersion"] = "1"
    assert api.put(f"{DEPLOYMENTS}/web", json=current).json()["reason"] == "Conflict"
    apply = patch(api, f"{DEPLOYMENTS}/web", {}, "application/apply-patch+yaml")
    assert apply.status_code == 415
    bad = {"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}
    invalid = patch(api, f"{DEPLOYMENTS}/web", bad, SMP)
    assert invalid.status_code == 422 and "does not match template" in invalid.json()["message"]
    created = api.post(DEPLOYMENTS, json=current | {"metadata": {"name": "web"}})
    assert created.status_code == 409 and created.json()["reason"] == "AlreadyExists"
    failing_test = [{"op": "test", "path": "/spec/replicas", "value": 9}]
    assert (
        patch(api, f"{DEPLOYMENTS}/web", failing_test, "application/json-patch+json").status_code
        == 422
    )
    sim.fail("status", status=503)
    assert api.get(DEPLOYMENTS).json()["reason"] == "ServiceUnavailable"


def test_a_watch_answers_with_the_changes_since_its_resource_version(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    listed = api.get(DEPLOYMENTS, params={"fieldSelector": "metadata.name=web"}).json()
    version = listed["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": version, "fieldSelector": "metadata.name=web"}
    # the watches here end after the server's own timeout (watch_seconds, 0.2 s in `sim`)
    assert api.get(DEPLOYMENTS, params=params).text == ""  # nothing happened meanwhile
    sim.set_image("web", "web:2")
    events = [json.loads(line) for line in api.get(DEPLOYMENTS, params=params).text.splitlines()]
    assert {e["type"] for e in events} == {"MODIFIED"}
    assert events[-1]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    api.delete(f"{DEPLOYMENTS}/web")
    gone = api.get(
        DEPLOYMENTS,
        params={**params, "resourceVersion": events[-1]["object"]["metadata"]["resourceVersion"]},
    )
    assert [json.loads(line)["type"] for line in gone.text.splitlines()] == ["DELETED"]
    assert api.get(REPLICASETS).json()["items"] == []  # deleted with their Deployment


def test_discovery_and_tables(sim: KubernetesSimulator, api: httpx.Client) -> None:
    resources = api.get("/apis/apps/v1").json()["resources"]
    assert {"deployments", "deployments/scale", "replicasets"} <= {r["name"] for r in resources}
    table = api.get(DEPLOYMENTS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert table.json()["kind"] == "Table"
    assert table.json()["rows"][0]["cells"][:4] == ["web", "3/3", 3, 3]


# -- the patch functions ----------------------------------------------------------------------


def test_strategic_merge_merges_containers_by_name_and_follows_directives() -> None:
    current = {
        "containers": [
            {"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "proxy:1"},
        ],
        "labels": {"a": "1", "b": "2"},
    }
    patched = strategic_merge(
        current,
        {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "web:2", "env": [{"name": "B", "value": "2"}]}],
            "labels": {"b": None},
        },
    )
    assert [c["name"] for c in patched["containers"]] == ["sidecar", "web"]
    assert patched["containers"][1]["image"] == "web:2"
    assert patched["containers"][1]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    assert patched["labels"] == {"a": "1"}
    removed = strategic_merge(current, {"containers": [{"name": "sidecar", "$patch": "delete"}]})
    assert [c["name"] for c in removed["containers"]] == ["web"]
    replaced = strategic_merge(current, {"labels": {"$patch": "replace", "c": "3"}})
    assert replaced["labels"] == {"c": "3"}


def test_json_patch_and_merge_patch() -> None:
    document = {"a": {"b": [1, 2]}, "c~d": 1}
    assert json_patch(document, [{"op": "add", "path": "/a/b/-", "value": 3}])["a"]["b"] == [
        1,
        2,
        3,
    ]
    assert json_patch(document, [{"op": "remove", "path": "/c~0d"}]) == {"a": {"b": [1, 2]}}
    moved = json_patch(document, [{"op": "move", "from": "/a/b", "path": "/b"}])
    assert moved == {"a": {}, "b": [1, 2], "c~d": 1}
    with pytest.raises(PatchError):
        json_patch(document, [{"op": "replace", "path": "/missing", "value": 1}])
    assert merge_patch(document, {"a": None, "e": {"f": 1}}) == {"c~d": 1, "e": {"f": 1}}


def test_label_selectors() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selector_matches(parse_selector("app=web,tier!=db"), labels)
    assert selector_matches(parse_selector("app in (web,api), !canary, tier"), labels)
    assert not selector_matches(parse_selector("app notin (web)"), labels)
    assert not selector_matches(parse_selector("app==api"), labels)
    with pytest.raises(PatchError):
        parse_selector("app=(")


# -- pods, events, deletion, validation and refusals, over HTTP ------------------------------

PODS = "/api/v1/namespaces/default/pods"


def test_pods_follow_their_replicaset_and_become_ready_on_the_clock(
    sim: KubernetesSimulator, api: httpx.Client, fake_clock: FakeClock
) -> None:
    pods = api.get(PODS).json()
    assert pods["kind"] == "PodList" and len(pods["items"]) == 3
    rs = api.get(REPLICASETS).json()["items"][0]
    for pod in pods["items"]:
        assert pod["metadata"]["name"].startswith(rs["metadata"]["name"] + "-")
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert pod["status"]["phase"] == "Running"
    api.delete(f"{REPLICASETS}/{rs['metadata']['name']}")  # made again, from no ready pods
    again = api.get(f"{REPLICASETS}/{rs['metadata']['name']}").json()
    assert again["metadata"]["uid"] != rs["metadata"]["uid"]
    assert (again["status"]["replicas"], again["status"].get("readyReplicas", 0)) == (3, 0)
    phases = [p["status"]["phase"] for p in api.get(PODS).json()["items"]]
    assert phases == ["Pending"] * 3
    fake_clock.advance(5)
    assert api.get(f"{REPLICASETS}/{rs['metadata']['name']}").json()["status"]["readyReplicas"] == 1
    fake_clock.advance(5)
    assert sorted(p["status"]["phase"] for p in api.get(PODS).json()["items"]) == ["Running"] * 3


def test_events_record_scaling_and_answer_field_selectors(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    uid = api.get(f"{DEPLOYMENTS}/web").json()["metadata"]["uid"]
    selector = f"involvedObject.uid={uid},involvedObject.kind=Deployment"
    events = api.get("/api/v1/namespaces/default/events", params={"fieldSelector": selector})
    assert events.json()["kind"] == "EventList"
    assert [e["reason"] for e in events.json()["items"]] == ["ScalingReplicaSet"]
    assert events.json()["items"][0]["source"] == {"component": "deployment-controller"}
    refused = api.get("/api/v1/events", params={"fieldSelector": "spec.foo=bar"})
    assert refused.status_code == 400 and refused.json()["reason"] == "BadRequest"
    assert refused.json()["message"] == "field label not supported: spec.foo"


def test_deletion_propagation(sim: KubernetesSimulator, api: httpx.Client) -> None:
    rs_name = api.get(REPLICASETS).json()["items"][0]["metadata"]["name"]
    orphan = api.request(
        "DELETE",
        f"{DEPLOYMENTS}/web",
        json={"kind": "DeleteOptions", "propagationPolicy": "Orphan"},
    )
    assert orphan.status_code == 200 and orphan.json()["metadata"]["finalizers"] == ["orphan"]
    kept = api.get(f"{REPLICASETS}/{rs_name}").json()
    assert "ownerReferences" not in kept["metadata"] and len(api.get(PODS).json()["items"]) == 3
    sim.add_deployment("web", "web:1")  # adopts the orphan instead of making another
    assert [rs["metadata"]["name"] for rs in api.get(REPLICASETS).json()["items"]] == [rs_name]
    foreground = api.delete(f"{DEPLOYMENTS}/web", params={"propagationPolicy": "Foreground"})
    assert foreground.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert api.get(REPLICASETS).json()["items"] == [] and api.get(PODS).json()["items"] == []
    sim.add_deployment("web", "web:1")
    background = api.delete(f"{DEPLOYMENTS}/web")
    assert background.json()["kind"] == "Status" and background.json()["status"] == "Success"
    assert api.get(REPLICASETS).json()["items"] == [] and api.get(PODS).json()["items"] == []
    sim.add_deployment("web", "web:1")
    bad = api.delete(f"{DEPLOYMENTS}/web", params={"propagationPolicy": "Later"})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0]["field"] == "propagationPolicy"


def test_unknown_fields_strict_warned_or_ignored(
    sim: KubernetesSimulator, api: httpx.Client
) -> None:
    body = {"spec": {"foo": 1, "template": {"spec": {"containers": [{"name": "web", "x": 2}]}}}}
    strict = api.patch(
        f"{DEPLOYMENTS}/web",
        params={"fieldValidation": "Strict"},
        content=json.dumps(body),
        headers={"Content-Type": SMP},
    )
    assert strict.status_code == 400 and strict.json()["message"] == (
        'strict decoding error: unknown field "spec.foo", unknown field '
        '"spec.template.spec.containers[0].x"'
    )
    warned = patch(api, f"{DEPLOYMENTS}/web", body, SMP)  # Warn: the server's default
    assert warned.status_code == 200 and "foo" not in warned.json()["spec"]
    assert warned.headers["warning"] == (
        '299 - "unknown field \\"spec.foo\\"", '
        '299 - "unknown field \\"spec.template.spec.containers[0].x\\""'
    )


def test_invalid_answers_carry_their_causes(sim: KubernetesSimulator, api: httpx.Client) -> None:
    invalid = patch(api, f"{DEPLOYMENTS}/web", {"spec": {"replicas": -1}}, SMP).json()
    assert invalid["code"] == 422 and invalid["reason"] == "Invalid"
    assert invalid["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: -1: must be greater than or equal to 0",
                "field": "spec.replicas",
            }
        ],
    }


def test_what_cannot_be_served_is_refused(sim: KubernetesSimulator, api: httpx.Client) -> None:
    protobuf = api.post(
        DEPLOYMENTS,
        content=b"k8s\x00\n\x0f\n\x07apps/v1",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert protobuf.status_code == 415 and protobuf.json()["reason"] == "UnsupportedMediaType"
    only_protobuf = api.get(DEPLOYMENTS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert only_protobuf.status_code == 406 and only_protobuf.json()["reason"] == "NotAcceptable"
    assert api.get(DEPLOYMENTS, headers={"Accept": "application/yaml"}).status_code == 406
    unknown = api.get("/apis/batch/v1/namespaces/default/jobs")
    assert unknown.status_code == 404 and unknown.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    status_write = patch(api, f"{DEPLOYMENTS}/web/status", {"status": {}}, SMP)
    assert status_write.status_code == 405 and status_write.json()["reason"] == "MethodNotAllowed"


def test_discovery_lists_exactly_what_is_served(api: httpx.Client) -> None:
    def verbs(path: str) -> dict[str, list[str]]:
        return {r["name"]: r["verbs"] for r in api.get(path).json()["resources"]}

    assert verbs("/api/v1") == {
        "events": ["get", "list", "watch"],
        "namespaces": ["get", "list", "watch"],
        "pods": ["get", "list", "watch"],
        "pods/log": ["get"],
    }
    assert verbs("/apis/apps/v1") == {
        "deployments": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "deployments/scale": ["get", "patch", "update"],
        "deployments/status": ["get"],
        "replicasets": ["delete", "get", "list", "watch"],
        "replicasets/status": ["get"],
    }
    assert [g["name"] for g in api.get("/apis").json()["groups"]] == ["apps"]


def test_health_endpoints_answer_ok_without_a_token(sim: KubernetesSimulator) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        answer = httpx.get(f"{sim.url}{path}")
        assert (answer.status_code, answer.text) == (200, "ok")
    assert "readyz check passed" in httpx.get(f"{sim.url}/readyz?verbose").text


def test_a_watch_streams_table_rows_when_asked(sim: KubernetesSimulator, api: httpx.Client) -> None:
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    params = {"watch": "true", "resourceVersion": "0", "timeoutSeconds": "1"}
    with api.stream("GET", DEPLOYMENTS, params=params, headers={"Accept": table}) as streamed:
        first = json.loads(next(streamed.iter_lines()))
    assert first["type"] == "ADDED" and first["object"]["kind"] == "Table"
    assert first["object"]["rows"][0]["cells"][:4] == ["web", "3/3", 3, 3]


def test_a_body_is_refused_only_once_its_sender_is_authenticated(
    sim: KubernetesSimulator,
) -> None:
    protobuf = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    anonymous = httpx.post(f"{sim.url}{DEPLOYMENTS}", content=b"k8s\x00", headers=protobuf)
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
