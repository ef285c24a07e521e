"""The AWS action providers against moto's server mode on 127.0.0.1 (tests/aws_world.py).

aws_s3 restores the object's version before a bad upload; aws_cloudfront puts back the config
the cockpit saw (at health) before a bad deploy changed it; aws_lambda moves an alias back one
version; aws_rds restores a snapshot under a new name. One moto server serves the session;
each case makes its own bucket or distribution, fixed for the provider as cockpit.toml would.
No case where moto (the aws/dev extras) is not installed. They are local cases (http=False):
moto is no project Simulator, so the HTTP-only checks (sim.fail) are left to
tests/test_aws_*.py, which throttle through FaultyFront.
"""

from __future__ import annotations

import importlib.util
from types import TracebackType
from typing import Any

from providers.base import ActionProvider

from . import Case

HAVE_MOTO = all(importlib.util.find_spec(name) for name in ("moto", "boto3", "flask"))


class AwsSetup:
    """For one provider (`kind`): a bucket whose object went from `good` to `bad`; a
    distribution seen at v1 that a bad deploy moved to v2-bad; a function whose alias `live` is
    on version 3 of 3; a database with a snapshot."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> AwsSetup:
        import aws_world as world
        from moto_server import KEY_ID, SECRET

        self.world = world
        self.server = world.shared()
        self.credentials = {"access_key_id": KEY_ID, "secret_access_key": SECRET}
        if self.kind == "aws_s3":
            self.bucket, self.key, _ = world.versioned_object(self.server, [b"good", b"bad"])
            self.fixed = {"bucket": self.bucket, "key": self.key}
        elif self.kind == "aws_cloudfront":
            self.distribution = world.distribution(self.server, "v1")
            self.fixed = {"distribution_id": self.distribution}
            self.provider({}).health()  # the cockpit saw v1 …
            world.change_distribution(self.server, self.distribution, "v2-bad")  # … the deploy
        elif self.kind == "aws_lambda":
            self.function = world.function_with_alias(self.server, 3, "3")
            self.fixed = {"function": self.function}
        else:
            self.instance, _ = world.db_with_snapshot(self.server)
            self.fixed = {"instance": self.instance}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        pass

    def provider(self, overrides: dict[str, Any]) -> ActionProvider:
        from providers.registry import load_provider

        cls = load_provider(self.kind)
        extra = {
            "aws_cloudfront": {"distributions": list(self.fixed.values()), "poll_seconds": 0.5},
            "aws_rds": {"poll_seconds": 0.5},
        }.get(self.kind, {})
        options = {**self.world.options(self.server, **self.credentials), **extra, **overrides}
        built = cls(cls.Options.model_validate(options))
        assert isinstance(built, ActionProvider)
        # What this setup made, as cockpit.toml would fix it for an environment: it wins over
        # the case's (the procedure's) names.
        built.fixed_params = dict(self.fixed)
        return built


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    assert isinstance(setup, AwsSetup)
    return setup.provider(overrides)


def _good_again(setup: Any) -> bool:
    return bool(setup.world.current_body(setup.server, setup.bucket, setup.key) == b"good")


def _v1_again(setup: Any) -> bool:
    return bool(setup.world.live_comment(setup.server, setup.distribution) == "v1")


def _alias_on_2(setup: Any) -> bool:
    return bool(setup.world.alias_version(setup.server, setup.function) == "2")


def _restored(setup: Any) -> bool:
    rds = setup.world.client(setup.server, "rds")
    found = rds.describe_db_instances(
        Filters=[{"Name": "db-instance-id", "Values": [f"{setup.instance}-restored"]}]
    )["DBInstances"]
    return bool(found and found[0]["DBInstanceStatus"] == "available")


CASES = (
    [
        Case(
            "aws_s3.restore_version",
            lambda: AwsSetup("aws_s3"),
            _provider,
            "restore_version",
            {"bucket": "huntaze-beta-assets", "key": "site/index.html"},
            _good_again,
            http=False,
        ),
        Case(
            "aws_cloudfront.restore_config",
            lambda: AwsSetup("aws_cloudfront"),
            _provider,
            "restore_config",
            {"distribution_id": "E2HUNTAZE", "invalidate": ["/*"]},
            _v1_again,
            http=False,
        ),
        Case(
            "aws_lambda.alias_rollback",
            lambda: AwsSetup("aws_lambda"),
            _provider,
            "alias_rollback",
            {"function": "huntaze-api", "alias": "live"},
            _alias_on_2,
            http=False,
        ),
        Case(
            "aws_rds.restore_snapshot",
            lambda: AwsSetup("aws_rds"),
            _provider,
            "restore_snapshot",
            {"instance": "huntaze-db"},
            _restored,
            http=False,
        ),
    ]
    if HAVE_MOTO
    else []
)
