"""Who is acting: the OS user and, over SSH, the client address, as written into the timeline.

Format (stable, the post-mortem and `timeline show` print it as is):

- ``"alice"`` for a local session;
- ``"alice via ssh 203.0.113.7"`` when ``SSH_CONNECTION`` (or the older ``SSH_CLIENT``) names a
  client address;
- ``"uid 1000"`` when the user name cannot be found (no passwd entry, no LOGNAME/USER), so that
  recording never fails because of the environment;
- with ``terminal=True`` (a cockpit), the terminal too: ``"alice via ssh 203.0.113.7 on
  pts/3"``, since several responders may share a user and a jump host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def _user() -> str:
    import getpass  # deferred: only processes that record pay for it

    try:
        name = getpass.getuser()
    except Exception:
        # getpass raises KeyError/OSError when neither the environment nor passwd knows us,
        # which happens in minimal containers.
        name = ""
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name:
        return name
    getuid = getattr(os, "getuid", None)
    return f"uid {getuid()}" if getuid is not None else "unknown"


def ssh_client(environ: Mapping[str, str] | None = None) -> str | None:
    """The SSH client's address, when this process runs inside an SSH session.

    Args:
        environ: The environment to read (default: ``os.environ``).

    Returns:
        The client IP address, or None when not under SSH or the variable is malformed.
    """
    env = os.environ if environ is None else environ
    raw = env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or ""
    first = raw.split()[0] if raw.split() else ""
    if not first:
        return None
    import ipaddress

    # The variable is under the user's control: record it only if it is really an address.
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return None


def tty_name() -> str | None:
    """The terminal of this process (``pts/3``), when its input is one."""
    try:
        name = os.ttyname(0)
    except OSError:
        return None
    return name.removeprefix("/dev/")


def current_actor(environ: Mapping[str, str] | None = None, *, terminal: bool = False) -> str:
    """Describe the person at the keyboard, e.g. ``"alice via ssh 203.0.113.7"`` or ``"alice"``.

    Args:
        environ: The environment to read for SSH variables (default: ``os.environ``).
        terminal: Add the terminal (``"alice via ssh 203.0.113.7 on pts/3"``): several
            responders may share one user and one jump host.

    Returns:
        The actor string recorded with every timeline event.
    """
    user = _user()
    client = ssh_client(environ)
    found = f"{user} via ssh {client}" if client else user
    tty = tty_name() if terminal else None
    return f"{found} on {tty}" if tty else found
