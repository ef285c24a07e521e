"""Roll a Docker Compose service back to an earlier image, the way Compose itself recreates one.

The runbooks do it by hand on the server, or over SSH, in 3–5 minutes: stop web, find the
previous image in `docker images`, edit the tag in the compose file, pull, `docker compose up -d
web`. This provider talks to the same Docker Engine (unix://, tcp:// or ssh://) and replays what
`docker compose up` does to recreate a container: create the new one beside the old under a
temporary name (same config, labels, networks and volumes, the older image), stop the old,
remove it, rename the new one and start it. The new container is never started while the old
one still runs, and a stop that fails leaves the old container alone and the new one removed.

The target is always an image id, never a tag that may have moved since: by default the image
the service ran before, which the cockpit records in a small state file per project and Docker
host each time it looks (the Engine keeps no history); otherwise the responder names one by id
or digest, or by a version tag that the plan resolves and pins. Without either, preflight
refuses and lists the repository's local images by id, digest and creation time.

Compose is not told: the next `docker compose up` would recreate the service from the compose
file again. The plan says so and gives the `image:` line to pin there.

One module per concern: engine (the Docker Engine API client), history (the images each service
ran, as the cockpit saw them), recreate (Compose's recreate order), plan, verify, containers
(Compose's labels and the words for containers and images) and provider (the ActionProvider).
"""

from providers.docker_compose.containers import IMAGE, REPLACE, short
from providers.docker_compose.engine import NotThere, check_ssh
from providers.docker_compose.provider import ComposeOptions, ComposeProvider
from providers.docker_compose.recreate import recreate_body

__all__ = [
    "IMAGE",
    "REPLACE",
    "ComposeOptions",
    "ComposeProvider",
    "NotThere",
    "check_ssh",
    "recreate_body",
    "short",
]
