"""The drill's AWS: moto's server mode on 127.0.0.1 with the procedure's CloudFront distribution
and versioned S3 object, each seen good by the cockpit and then broken by the bad deploy, and an
RDS instance with a snapshot from before it.

moto (the dev extra) serves every AWS API on one endpoint, in this process. The cockpit's real
aws_cloudfront, aws_s3 and aws_rds providers talk to it over HTTP with boto3, with throwaway
credentials. A WSGI wrapper looks after each write: the distribution's config off the bad
deploy's, the object's content off the bad upload, or an instance restored from the snapshot
rolls the scenario back (in production the application moves to it once DATABASE_URL names it,
a step the option leaves to the responder). Without moto the options are done by hand, as the
drill says.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cockpit.demo.platforms import Named, Platforms
from cockpit.demo.scenario import Scenario

BAD = "v1.2.4 (the bad deploy)"
GOOD_BODY = b"<html>huntaze v1.2.3</html>"
BAD_BODY = b"<html>huntaze v1.2.4 broken</html>"
START_SECONDS = 20.0
PROVIDERS = ("aws_cloudfront", "aws_s3", "aws_rds")
"""The providers this one platform configures."""


class AwsPlatform:
    """moto on 127.0.0.1, a port chosen by the OS; `after_write` runs after each PUT or POST
    but the watcher's own (its reads of query APIs such as RDS's are POSTs too)."""

    def __init__(self) -> None:
        self.after_write: Callable[[], None] = lambda: None
        self.key_id = "AKIADRILL" + secrets.token_hex(6).upper()
        self.watch_key_id = "AKIAWATCH" + secrets.token_hex(6).upper()
        self.secret = secrets.token_urlsafe(24)
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        inner = DomainDispatcherApplication(create_backend_app)
        platform = self

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            answer = list(inner(environ, start_response))
            watching = platform.watch_key_id in environ.get("HTTP_AUTHORIZATION", "")
            if environ.get("REQUEST_METHOD") in ("PUT", "POST") and not watching:
                # moto has no change hooks: each write is looked at once it is made; one that
                # cannot be read yet is looked at again on the next write.
                with contextlib.suppress(Exception):
                    platform.after_write()
            return answer

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(START_SECONDS)

    def options(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.url,
            "access_key_id": self.key_id,
            "secret_access_key": self.secret,
            "timeout_seconds": 10.0,
            "max_attempts": 2,
        }

    def client(self, service: str, *, watching: bool = False) -> Any:
        """A boto3 client; `watching`: the watcher's, whose calls are never looked after."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.watch_key_id if watching else self.key_id,
            aws_secret_access_key=self.secret,
        )


def distribution_config(reference: str, comment: str) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Comment": comment,
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "assets",
                    "DomainName": "assets.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "assets",
            "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0,
        },
    }


def set_up(platform: AwsPlatform, bucket: str, key: str) -> str:
    """The distribution (good, v1.2.3) and the object (good); the distribution's id. The bad
    deploy comes after the cockpit has seen them (`break_them`)."""
    cloudfront = platform.client("cloudfront")
    made = cloudfront.create_distribution(
        DistributionConfig=distribution_config(secrets.token_hex(8), "huntaze v1.2.3")
    )
    s3 = platform.client("s3")
    # moto's state is the process's: a drill run before this one in it left the bucket there.
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=key, Body=GOOD_BODY)
    return str(made["Distribution"]["Id"])


def database(platform: AwsPlatform, name: str) -> tuple[str, set[str]]:
    """A PostgreSQL instance named after the procedure (moto's state is the process's: a fresh
    name each drill) and a snapshot of it; its identifier, and every instance there now."""
    rds = platform.client("rds")
    instance = f"{name}-db-{secrets.token_hex(3)}"
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="drill",
        MasterUserPassword=secrets.token_urlsafe(18),
    )
    rds.create_db_snapshot(
        DBInstanceIdentifier=instance, DBSnapshotIdentifier=f"{instance}-before-deploy"
    )
    known = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    return instance, known


def break_them(platform: AwsPlatform, distribution: str, bucket: str, key: str) -> None:
    """The bad deploy: a new distribution config and a new object version."""
    cloudfront = platform.client("cloudfront")
    got = cloudfront.get_distribution_config(Id=distribution)
    config = {**got["DistributionConfig"], "Comment": BAD}
    cloudfront.update_distribution(Id=distribution, DistributionConfig=config, IfMatch=got["ETag"])
    platform.client("s3").put_object(Bucket=bucket, Key=key, Body=BAD_BODY)


def watch(
    platform: AwsPlatform,
    scenario: Scenario,
    distribution: str,
    object_at: tuple[str, str],
    known: set[str],
) -> None:
    """Roll the scenario back once any of the rollbacks has taken; `known`: the instances
    there before, so a new one is a restore."""

    def config_back() -> bool:
        cloudfront = platform.client("cloudfront", watching=True)
        got = cloudfront.get_distribution_config(Id=distribution)
        return bool(got["DistributionConfig"]["Comment"] != BAD)

    def object_back() -> bool:
        bucket, key = object_at
        got = platform.client("s3", watching=True).get_object(Bucket=bucket, Key=key)
        return bool(got["Body"].read() != BAD_BODY)

    def restored() -> bool:
        found = platform.client("rds", watching=True).describe_db_instances()["DBInstances"]
        return any(i["DBInstanceIdentifier"] not in known for i in found)

    def after_write() -> None:
        for taken in (config_back, object_back, restored):
            with contextlib.suppress(Exception):  # one not readable yet is looked at next time
                if taken():
                    scenario.rollback()
                    return

    platform.after_write = after_write


def aws(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """The AWS options' platform, started once: aws_cloudfront, aws_s3 and aws_rds configured
    on it, the configs seen (recorded) by the cockpit, then the bad deploy."""
    if any(name in platforms.providers for name in PROVIDERS):
        return
    from providers.aws import CloudFrontProvider, RdsProvider, S3Provider

    bucket = Named(named.procedure, "aws_s3").param("bucket", f"{named.procedure.name}-assets")
    key = "site/index.html"
    platform = AwsPlatform()
    try:
        platform.start()
        distribution = set_up(platform, bucket, key)
        instance, known = database(platform, named.procedure.name)
        cloudfront = CloudFrontProvider(
            CloudFrontProvider.Options.model_validate(
                {**platform.options(), "distributions": [distribution], "poll_seconds": 0.2}
            )
        )
        cloudfront.health()  # the cockpit sees v1.2.3's config: the one to go back to
        s3 = S3Provider(S3Provider.Options.model_validate(platform.options()))
        rds = RdsProvider(
            RdsProvider.Options.model_validate(
                {**platform.options(), "poll_seconds": 0.2, "restore_seconds": 60}
            )
        )
        break_them(platform, distribution, bucket, key)
    except Exception as error:  # a drill without its AWS still runs; it says why
        platform.stop()
        platforms.missing.append(f"aws (did not start: {error})"[:300])
        return
    # Where the runbook leaves them open ($DISTRIBUTION_ID, path/to/file, the RDS instance),
    # as cockpit.toml would fix them for an environment.
    cloudfront.fixed_params = {"distribution_id": distribution}
    s3.fixed_params = {"bucket": bucket, "key": key}
    rds.fixed_params = {"instance": instance}
    watch(platform, scenario, distribution, (bucket, key), known)
    platforms.others.append((f"aws (moto) {platform.url}", platform.stop))
    platforms.providers["aws_cloudfront"] = cloudfront
    platforms.providers["aws_s3"] = s3
    platforms.providers["aws_rds"] = rds
