"""S3 and R2 as the postgres provider sees them: where a bucket is, a client, what a failure means.

`s3://bucket/key` goes to AWS (or `endpoint_url`, e.g. a MinIO or moto), `r2://bucket/key` to
Cloudflare R2's S3 endpoint `https://<account_id>.r2.cloudflarestorage.com`, region `auto`.
Credentials are the options' `{ env = … }` / `{ file = … }` secrets, or boto3's own chain
(AWS_ACCESS_KEY_ID, ~/.aws, an instance role) when none is configured; whatever boto3 ends up
with is registered as a secret, so no text the cockpit records can hold it.

boto3 is imported by `client()` only: a cockpit that never fetches a backup never pays its
~0.3 s import. Every call has connect and read timeouts, and botocore's standard retry mode
(throttling and 5xx answers, backoff capped at 20 s) with a bounded number of attempts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.redact import register_secret, scrub
from providers.api import Secret

GiB = 1 << 30
URL = re.compile(r"^(s3|r2)://([^/?#]+)/?([^?#]*)(?:\?versionId=([^&#]+))?$", re.IGNORECASE)
CREDENTIALS = {
    "InvalidAccessKeyId": "the access key id is not known there",
    "SignatureDoesNotMatch": "the secret access key is wrong for that key id",
    "ExpiredToken": "the session token has expired: get new credentials",
    "TokenRefreshRequired": "the session token has expired: get new credentials",
    "InvalidToken": "the session token is not valid",
    "AccessDenied": "the credentials are not allowed to read it",
    "AllAccessDisabled": "all access to it is disabled",
}
THROTTLED = ("SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503")
MISSING = {
    "NoSuchKey": "no such object",
    "404": "no such object",
    "NoSuchBucket": "no such bucket",
    "NoSuchVersion": "no such version of the object",
}


class BucketOptions(BaseModel):
    """Where the backups' bucket store is and how to reach it (options.s3, options.r2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    endpoint_url: str | None = None
    """Default: AWS's own, or R2's for the account; a test points it at moto on 127.0.0.1."""
    account_id: str | None = None
    """R2 only: the Cloudflare account whose endpoint serves the bucket."""
    region: str | None = None
    """Default: boto3's (AWS_DEFAULT_REGION, ~/.aws/config); always `auto` for R2."""
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    max_bytes: int = Field(default=50 * GiB, gt=0)
    """A larger object is refused before its download starts (and cut off if it grows)."""
    timeout_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """For connecting, and for each read of the body (a stalled download)."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Attempts per call when throttled (SlowDown) or answered 5xx, with backoff."""
    download_seconds: float = Field(default=1800.0, gt=0, allow_inf_nan=False)
    """The whole download's deadline (a trickling one is given up, not waited for)."""


@dataclass(frozen=True)
class ObjectUrl:
    """s3://bucket/key or r2://bucket/key, with an optional versionId."""

    scheme: str
    bucket: str
    key: str
    version_id: str | None = None

    @classmethod
    def parse(cls, url: str, version_id: str | None = None) -> ObjectUrl:
        match = URL.match(url.strip())
        if match is None:
            raise ProviderError(f"{url[:200]!r} is not s3://bucket/key or r2://bucket/key")
        scheme, bucket, key, version = match.groups()
        return cls(scheme.lower(), bucket, key, version_id or version)

    def __str__(self) -> str:
        version = f" (version {self.version_id})" if self.version_id else ""
        return f"{self.scheme}://{self.bucket}/{self.key}{version}"

    def at(self, key: str) -> ObjectUrl:
        """Another object of the same bucket (the latest version)."""
        return ObjectUrl(self.scheme, self.bucket, key)


def options_for(scheme: str, s3: BucketOptions | None, r2: BucketOptions | None) -> BucketOptions:
    chosen = (r2 if scheme == "r2" else s3) or BucketOptions()
    if scheme == "r2" and not (chosen.endpoint_url or chosen.account_id):
        raise ProviderError(
            "r2:// backups need the Cloudflare account: set r2.account_id (or r2.endpoint_url) "
            "in the postgres provider's options"
        )
    return chosen


def endpoint(scheme: str, options: BucketOptions) -> str | None:
    if options.endpoint_url:
        return options.endpoint_url
    if scheme == "r2":
        return f"https://{options.account_id}.r2.cloudflarestorage.com"
    return None


def client(scheme: str, options: BucketOptions) -> Any:
    """A boto3 S3 client for the store (boto3 imported here, on first use)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ProviderError(
            "fetching s3:// or r2:// backups needs boto3: pip install 'rollback-cockpit[aws]'"
        ) from None

    def given(secret: Any) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    session = boto3.session.Session(
        aws_access_key_id=given(options.access_key_id),
        aws_secret_access_key=given(options.secret_access_key),
        aws_session_token=given(options.session_token),
        region_name="auto" if scheme == "r2" else options.region,
    )
    found = session.get_credentials()
    if found is not None:
        # Keys from boto3's own chain never passed through the options' Secret type.
        for value in (found.secret_key, found.token):
            if value:
                register_secret(value)
    url = endpoint(scheme, options)
    config = Config(
        connect_timeout=options.timeout_seconds,
        read_timeout=options.timeout_seconds,
        # total_max_attempts counts the first try; Config's "max_attempts" would not.
        retries={"mode": "standard", "total_max_attempts": options.max_attempts},
        # A custom endpoint (an IP, R2) has no per-bucket host names.
        s3={"addressing_style": "path" if url else "auto"},
        signature_version="s3v4",
    )
    return session.client("s3", endpoint_url=url, config=config)


def failure(error: BaseException, where: ObjectUrl, doing: str, attempts: int) -> ProviderError:
    """What a botocore exception means for this object, as the project's error; nothing raised
    by boto3 leaves the provider untranslated."""
    from botocore import exceptions as bx

    if isinstance(error, bx.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "")
        said = scrub(str(details.get("Message") or "")[:200])
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in CREDENTIALS:
            return ProviderError(
                f"{doing} {where}: credentials refused ({code}: {CREDENTIALS[code]}); check the "
                "access key id and secret (options or AWS_* environment); nothing was restored"
            )
        if code in MISSING:
            what = f"bucket {where.bucket}" if code == "NoSuchBucket" else str(where)
            return ProviderError(f"{doing} {where}: {MISSING[code]} ({what}); nothing was restored")
        if code in THROTTLED or status in (429, 503):
            return ProviderUnavailable(
                f"{doing} {where}: still throttled ({code or status}) after {attempts} attempts "
                "with backoff; try again in a minute; nothing was restored"
            )
        return ProviderError(f"{doing} {where}: {code or status}: {said}; nothing was restored")
    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ProviderError(
            f"{doing} {where}: no credentials: set access_key_id and secret_access_key in the "
            f"{where.scheme} options ({{ env = NAME }} or {{ file = PATH }}) or AWS_ACCESS_KEY_ID; "
            "nothing was restored"
        )
    if isinstance(error, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return ProviderTimeout(f"{doing} {where}: no answer in time ({error}); nothing restored")
    if isinstance(error, bx.EndpointConnectionError):
        return ProviderUnavailable(f"{doing} {where}: cannot connect ({error})")
    if isinstance(error, bx.IncompleteReadError | bx.ResponseStreamingError):
        return cut_short(where, str(error))
    if isinstance(error, bx.BotoCoreError):
        return ProviderError(f"{doing} {where}: {scrub(str(error))[:300]}")
    raise error


def cut_short(where: ObjectUrl, why: str) -> ProviderError:
    return ProviderError(
        f"the download of {where} was cut short ({scrub(why)[:200]}): the partial file was "
        "removed; nothing was restored"
    )
