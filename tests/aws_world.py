"""AWS as the AWS provider tests see it: moto's server mode on 127.0.0.1 (tests/moto_server.py)
with a versioned bucket, a CloudFront distribution and CloudWatch data made through boto3.

moto's backends live in the test process, shared by every moto server it starts, so each setup
uses fresh names instead of resetting (another module's server may be serving too). The
contract cases (contract_cases/aws.py) start one server for the session with `shared()`.
"""

from __future__ import annotations

import atexit
import itertools
from typing import Any

from moto_server import KEY_ID, REGION, SECRET, MotoServer

_names = itertools.count(1)
_shared: MotoServer | None = None


def shared() -> MotoServer:
    """One moto server for the whole test session, stopped at exit."""
    global _shared
    if _shared is None:
        _shared = MotoServer()
        atexit.register(_shared.stop)
    return _shared


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def client(server: MotoServer, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def options(server: MotoServer, **overrides: Any) -> dict[str, Any]:
    """Provider options pointing at the server, credentials from the environment."""
    return {
        "endpoint_url": server.url,
        "access_key_id": {"env": "TEST_AWS_KEY_ID"},
        "secret_access_key": {"env": "TEST_AWS_SECRET"},
        "timeout_seconds": 5.0,
        "max_attempts": 2,
        **overrides,
    }


def versioned_object(server: MotoServer, bodies: list[bytes]) -> tuple[str, str, list[str]]:
    """A versioned bucket whose object `site/index.html` had `bodies`, oldest first; the
    bucket, the key and the version ids, oldest first."""
    s3 = client(server, "s3")
    bucket, key = fresh("assets"), "site/index.html"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = [s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"] for body in bodies]
    return bucket, key, versions


def current_body(server: MotoServer, bucket: str, key: str) -> bytes:
    body: bytes = client(server, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def distribution(server: MotoServer, comment: str = "v1") -> str:
    """A new distribution with one S3 origin; its id."""
    cloudfront = client(server, "cloudfront")
    reference = fresh("ref")
    config = {
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
    made = cloudfront.create_distribution(DistributionConfig=config)
    return str(made["Distribution"]["Id"])


def change_distribution(server: MotoServer, distribution_id: str, comment: str) -> None:
    """A deploy someone else makes: the distribution's Comment becomes `comment`."""
    cloudfront = client(server, "cloudfront")
    got = cloudfront.get_distribution_config(Id=distribution_id)
    config = {**got["DistributionConfig"], "Comment": comment}
    cloudfront.update_distribution(
        Id=distribution_id, DistributionConfig=config, IfMatch=got["ETag"]
    )


def live_comment(server: MotoServer, distribution_id: str) -> str:
    got = client(server, "cloudfront").get_distribution_config(Id=distribution_id)
    return str(got["DistributionConfig"]["Comment"])


def move_etag(distribution_id: str, etag: str) -> None:
    """Give the distribution another ETag, as AWS does on each change (moto never rotates it)."""
    from moto.cloudfront.models import cloudfront_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = cloudfront_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.distributions[distribution_id].etag = etag


def function_with_alias(server: MotoServer, published: int, alias_on: str) -> str:
    """A function with versions 1..`published` and an alias `live` on `alias_on`; its name."""
    import io
    import zipfile

    role = client(server, "iam").create_role(RoleName=fresh("role"), AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    lam = client(server, "lambda")
    name = fresh("security-headers")
    for number in range(1, published + 1):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("handler.py", f"def handler(event, context):\n    return {number}\n")
        if number == 1:
            lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": buffer.getvalue()},
                Publish=True,
            )
        else:
            lam.update_function_code(FunctionName=name, ZipFile=buffer.getvalue(), Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=alias_on)
    return name


def alias_version(server: MotoServer, function: str) -> str:
    got = client(server, "lambda").get_alias(FunctionName=function, Name="live")
    return str(got["FunctionVersion"])


def db_with_snapshot(server: MotoServer) -> tuple[str, str]:
    """A PostgreSQL instance and a manual snapshot of it; their identifiers."""
    rds = client(server, "rds")
    instance = fresh("huntaze-db")
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="huntaze",
        MasterUserPassword="not-a-real-password-1",
    )
    snapshot = fresh("huntaze-db-snapshot")
    rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=snapshot)
    return instance, snapshot
