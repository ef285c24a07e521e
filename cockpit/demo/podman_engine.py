"""A private podman serving the Docker Engine API on a unix socket: a drill's Docker Compose
engine, and the Compose tests'.

Debian has no Docker daemon we can run here, but podman 4.3 serves the Docker Engine API (v1.41)
well enough for the docker SDK and for docker compose. Each `Podman` keeps everything in its
own temp dir: storage (--root/--runroot/--tmpdir), its containers.conf (runc, as crun does not
work here; explicit ulimits; network configs kept in the temp dir) and the socket. There is no
registry, so the two images are imported from a busybox-static rootfs: `localhost/mini:1` and
`localhost/mini:2` differ in a file, an ENV and a LABEL, so their ids differ and a test can tell
which image a container really runs.

`service()` creates a container the way `docker compose up` would (the com.docker.compose.*
labels, the name `<project>-<service>-<n>`, the project network `<project>_default` with the
service's aliases, an anonymous volume, an init), `deploy()` recreates it on another image as the
next `docker compose up` after a tag bump would. Containers get `init=True`, or stop waits its
whole timeout. Each project network gets its own subnet and bridge name, so two runs on one
machine do not share a bridge.

Start and stop take about a second together (see `timings`). Nothing can hang: every subprocess
has a timeout and every wait a deadline. Teardown is `podman system reset --force` and a
SIGKILL, by PID, for any conmon left behind under the temp dir. Needs Debian's podman, runc,
catatonit and busybox-static (`missing()` says which are absent); nothing here installs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from cockpit.demo.reaper import Reaper, stop_group

API_VERSION = "1.41"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "sleep", "true", "false", "test", "cat", "echo", "ls", "kill", "ps")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_config_dir = "{networks}"
"""
COMPOSE_VERSION = "2.20.2"


def missing() -> str | None:
    """Why podman cannot serve the tests here, or None when everything is in place."""
    lacking = [tool for tool in ("podman", "runc", "catatonit") if not _which(tool)]
    if not _static_busybox():
        lacking.append("busybox-static")
    if not lacking:
        return None
    return (
        f"needs {', '.join(lacking)} (Debian packages podman runc catatonit busybox-static; "
        "`make test` as root installs them via scripts/services.sh)"
    )


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next(
        (str(p) for p in (Path("/usr/sbin") / tool, Path("/usr/bin") / tool) if p.exists()), None
    )


def _static_busybox() -> bool:
    """A busybox with no ELF interpreter (PT_INTERP), so it runs alone in a rootfs."""
    try:
        head = BUSYBOX.read_bytes()[:4096]
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and b"/ld-linux" not in head and b"/ld-musl" not in head


class Podman:
    """One private podman API service; enter to start it, exit to reset and remove everything."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pm-"))
        self.socket = self.dir / "docker.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.client: Any = None
        self.images: dict[str, str] = {}
        """Tag ('1', '2') → image id (sha256:…)."""
        self.timings: dict[str, float] = {}
        self.reaper: Reaper | None = None
        """Ends the service and removes its folder if this process is killed outright."""
        self._specs: dict[tuple[str, str], dict[str, Any]] = {}
        self._networks: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.dir / "containers.conf")}

    def __enter__(self) -> Podman:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - started
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def podman(self, *args: str, timeout: float = 60, input: bytes | None = None) -> str:
        """Run `podman <private storage> args`; raise with its stderr when it fails."""
        done = subprocess.run(
            [
                "podman",
                "--root",
                str(self.dir / "root"),
                "--runroot",
                str(self.dir / "run"),
                "--tmpdir",
                str(self.dir / "tmp"),
                *args,
            ],
            input=input,
            capture_output=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"podman {' '.join(args)}: {stderr[-500:]}")
        return done.stdout.decode(errors="replace").strip()

    def _start(self) -> None:
        (self.dir / "networks").mkdir()
        (self.dir / "containers.conf").write_text(
            CONTAINERS_CONF.format(networks=self.dir / "networks")
        )
        for tag in ("1", "2"):
            self.images[tag] = self._import(tag)
        log = (self.dir / "service.log").open("wb")
        self.process = subprocess.Popen(
            [
                "podman",
                "--root",
                str(self.dir / "root"),
                "--runroot",
                str(self.dir / "run"),
                "--tmpdir",
                str(self.dir / "tmp"),
                "system",
                "service",
                "--time=0",
                self.base_url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        self.reaper = Reaper(stop_group(self.process.pid, self.dir))
        log.close()
        deadline = time.monotonic() + 15
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = (self.dir / "service.log").read_text(errors="replace")[-800:]
                raise RuntimeError(f"podman system service did not answer /_ping: {text}")
            time.sleep(0.05)
        import docker  # type: ignore[import-untyped]

        self.client = docker.DockerClient(base_url=self.base_url, version=API_VERSION, timeout=30)

    def _import(self, tag: str) -> str:
        """Import localhost/mini:<tag>: busybox, its applets, /etc/version, ENV and LABEL."""
        rootfs = self.dir / f"rootfs{tag}"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "etc").mkdir()
        (rootfs / "tmp").mkdir()
        (rootfs / "data").mkdir()
        shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
        for applet in APPLETS:
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "etc" / "version").write_text(f"{tag}\n")
        archive = self.dir / f"mini{tag}.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        output = self.podman(
            "import",
            "--quiet",
            "--change",
            f"ENV=VERSION={tag}",
            "--change",
            f"LABEL=version={tag}",
            "--change",
            'CMD ["sleep", "3600"]',
            str(archive),
            f"localhost/mini:{tag}",
        )
        return output.splitlines()[-1].strip()

    def ping(self) -> bool:
        """Whether the service answers GET /_ping with OK."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(1.0)
                conn.connect(str(self.socket))
                conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
                return conn.recv(4096).rstrip().endswith(b"OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the service, reset its storage, kill stray conmons, remove the temp dir."""
        started = time.monotonic()
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            self.process = None
        if (self.dir / "containers.conf").exists():
            with contextlib.suppress(Exception):
                self.podman("system", "reset", "--force", timeout=60)
        self._kill_strays()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - started

    def _kill_strays(self) -> None:
        """SIGKILL, by PID, every conmon (or podman cleanup) whose command line names our dir."""
        marker = str(self.dir).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline and (b"conmon" in cmdline or b"podman" in cmdline):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)

    # Compose-like services.

    def network(self, project: str, network: str = "default") -> str:
        """`<project>_<network>` as Compose labels it, on its own subnet and bridge."""
        name = f"{project}_{network}"
        if name not in self._networks:
            import docker.types  # type: ignore[import-untyped]

            last: Exception | None = None
            for _ in range(5):
                subnet = f"10.{random.randint(128, 250)}.{random.randint(0, 255)}.0/24"
                bridge = f"pm{random.getrandbits(40):010x}"
                try:
                    self.client.networks.create(
                        name,
                        ipam=docker.types.IPAMConfig(
                            pool_configs=[docker.types.IPAMPool(subnet=subnet)]
                        ),
                        options={"com.docker.network.bridge.name": bridge},
                        labels={
                            "com.docker.compose.project": project,
                            "com.docker.compose.network": network,
                            "com.docker.compose.version": COMPOSE_VERSION,
                        },
                    )
                    break
                except docker.errors.APIError as error:  # a subnet someone else uses
                    last = error
            else:
                raise RuntimeError(f"could not create {name}: {last}")
            self._networks[name] = project
        return name

    def service(
        self,
        project: str,
        service: str = "web",
        tag: str = "2",
        *,
        number: int = 1,
        command: list[str] | None = None,
        healthcheck: list[str] | None = None,
        environment: dict[str, str] | None = None,
        start: bool = True,
    ) -> Any:
        """Create and start one replica as `docker compose up` would; returns the Container.

        `start=False` leaves it created: enough for a cockpit to have seen it, and quicker.
        """
        spec = {"command": command, "healthcheck": healthcheck, "environment": environment or {}}
        self._specs[(project, service)] = spec
        network = self.network(project)
        name = f"{project}-{service}-{number}"
        config_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        labels = {
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": str(number),
            "com.docker.compose.oneoff": "False",
            "com.docker.compose.config-hash": config_hash,
            "com.docker.compose.image": self.images[tag],
            "com.docker.compose.version": COMPOSE_VERSION,
            "com.docker.compose.depends_on": "",
            "com.docker.compose.project.working_dir": f"/srv/{project}",
            "com.docker.compose.project.config_files": f"/srv/{project}/compose.yaml",
        }
        body: dict[str, Any] = {
            "Image": f"localhost/mini:{tag}",
            "Labels": labels,
            "Env": [f"{key}={value}" for key, value in (environment or {}).items()],
            "Volumes": {"/data": {}},
            "HostConfig": {"Init": True, "NetworkMode": network, "RestartPolicy": {"Name": "no"}},
            "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [name, service]}}},
        }
        if command:
            body["Cmd"] = command
        if healthcheck:
            body["Healthcheck"] = {"Test": healthcheck, "Interval": 3_600_000_000_000}
        created = self.client.api.create_container_from_config(body, name=name)
        if start:
            self.client.api.start(created["Id"])
        return self.client.containers.get(created["Id"])

    def deploy(self, project: str, service: str, tag: str) -> Any:
        """Recreate the service's replica 1 on localhost/mini:<tag> (a compose up after a bump)."""
        spec = self._specs[(project, service)]
        for container in self.containers(project, service):
            container.remove(force=True)
        return self.service(
            project,
            service,
            tag,
            command=spec["command"],
            healthcheck=spec["healthcheck"],
            environment=spec["environment"],
        )

    def containers(self, project: str, service: str | None = None) -> list[Any]:
        """The project's (or one service's) containers, running or not."""
        labels = [f"com.docker.compose.project={project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return list(self.client.containers.list(all=True, filters={"label": labels}))

    def remove_project(self, project: str) -> None:
        """Remove the project's containers, their anonymous volumes and its network."""
        for container in self.containers(project):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
        for name in [n for n, owner in self._networks.items() if owner == project]:
            del self._networks[name]
            with contextlib.suppress(Exception):
                self.client.networks.get(name).remove()

    def healthcheck(self, container: str) -> str:
        """Run the container's healthcheck once (no systemd timers here); 'healthy' or not."""
        try:
            self.podman("healthcheck", "run", container, timeout=30)
        except RuntimeError as error:
            return f"unhealthy: {error}"
        return "healthy"
