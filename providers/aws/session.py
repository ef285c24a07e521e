"""What every AWS provider shares: where AWS is, credentials, a client with timeouts, and what a
botocore failure means as the project's error.

Credentials are the options' `{ env = … }` / `{ file = … }` secrets, or boto3's own chain
(AWS_ACCESS_KEY_ID, ~/.aws, an instance role) when none is configured; whatever boto3 ends up
with is registered as a secret, so no text the cockpit records can hold it. `endpoint_url` points
a client elsewhere (moto on 127.0.0.1 in the tests); it is the only place named in plans.

boto3 is imported by `client()` only, so a cockpit that never uses AWS never pays for it. Every
call has connect and read timeouts and botocore's standard retry mode: throttling (Throttling,
ThrottlingException, SlowDown, RequestLimitExceeded, ...) and 5xx answers are retried with
capped backoff, `max_attempts` in all, then come back as ProviderUnavailable saying so.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.redact import register_secret, scrub
from providers.api import Secret
from providers.base import ProviderOptions

THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
        "RequestThrottled",
    }
)
CREDENTIALS = {
    "InvalidAccessKeyId": "the access key id is not known there",
    "InvalidClientTokenId": "the access key id is not known there",
    "SignatureDoesNotMatch": "the secret access key is wrong for that key id",
    "ExpiredToken": "the session token has expired: get new credentials",
    "AccessDenied": "the credentials are not allowed to do this",
    "AccessDeniedException": "the credentials are not allowed to do this",
    "UnrecognizedClientException": "the credentials are not known there",
}


class AwsOptions(ProviderOptions):
    """Where AWS is and how to reach it; shared by the AWS providers."""

    endpoint_url: str | None = None
    """Default: AWS's own; a test points it at moto on 127.0.0.1."""
    region: str = "us-east-1"
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """For connecting and for each read of an answer."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Attempts per call when throttled or answered 5xx, with backoff (botocore's standard)."""


def client(service: str, options: AwsOptions) -> Any:
    """A boto3 client for `service` (boto3 imported here, on first use)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ProviderError(
            "the AWS providers need boto3: pip install 'rollback-cockpit[aws]'"
        ) from None

    def given(secret: Any) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    session = boto3.session.Session(
        aws_access_key_id=given(options.access_key_id),
        aws_secret_access_key=given(options.secret_access_key),
        aws_session_token=given(options.session_token),
        region_name=options.region,
    )
    found = session.get_credentials()
    if found is not None:
        # Keys from boto3's own chain never passed through the options' Secret type.
        for value in (found.secret_key, found.token):
            if value:
                register_secret(value)
    config = Config(
        connect_timeout=options.timeout_seconds,
        read_timeout=options.timeout_seconds,
        # total_max_attempts counts the first try; Config's "max_attempts" would not.
        retries={"mode": "standard", "total_max_attempts": options.max_attempts},
        s3={"addressing_style": "path" if options.endpoint_url else "auto"},
    )
    return session.client(service, endpoint_url=options.endpoint_url, config=config)


def code_of(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or "")


def failure(error: BaseException, doing: str, attempts: int, after: str = "") -> ProviderError:
    """What a botocore exception means, as the project's error; `after` says what state that
    leaves (\"nothing was changed\"). Nothing raised by boto3 leaves a provider untranslated."""
    from botocore import exceptions as bx

    tail = f"; {after}" if after else ""
    if isinstance(error, bx.ClientError):
        code = code_of(error)
        said = scrub(str(error.response.get("Error", {}).get("Message") or ""))[:200]
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in CREDENTIALS:
            return ProviderError(
                f"{doing}: credentials refused ({code}: {CREDENTIALS[code]}); check the access "
                f"key id and secret (options or AWS_* environment){tail}"
            )
        if code in THROTTLED or status in (429, 503):
            return ProviderUnavailable(
                f"{doing}: still throttled ({code or status}) after {attempts} attempts with "
                f"backoff; try again in a minute{tail}"
            )
        return ProviderError(f"{doing}: {code or status}: {said}{tail}")
    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ProviderError(
            f"{doing}: no AWS credentials: set access_key_id and secret_access_key in the "
            f"provider's options ({{ env = NAME }} or {{ file = PATH }}) or AWS_ACCESS_KEY_ID{tail}"
        )
    if isinstance(error, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return ProviderTimeout(f"{doing}: no answer in time ({error}){tail}")
    if isinstance(error, bx.EndpointConnectionError):
        return ProviderUnavailable(f"{doing}: cannot connect ({error}){tail}")
    if isinstance(error, bx.BotoCoreError):
        return ProviderError(f"{doing}: {scrub(str(error))[:300]}{tail}")
    raise error


class Caller:
    """Makes calls on one lazily built client and translates their failures."""

    service: str = ""

    def __init__(self, service: str, options: AwsOptions) -> None:
        self.service = service
        self.aws = options
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client(self.service, self.aws)
        return self._client

    def call(self, doing: str, operation: str, after: str = "", **kwargs: Any) -> Any:
        """client.<operation>(**kwargs); a ProviderError saying what failed and what that
        leaves (`after`) when it does."""
        try:
            return getattr(self.client, operation)(**kwargs)
        except ProviderError:
            raise
        except Exception as error:
            raise failure(error, doing, self.aws.max_attempts, after) from error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def cli(self, *words: str) -> str:
        """`aws <words>` with the endpoint and region this cockpit uses (never credentials)."""
        import shlex

        extra = ["--region", self.aws.region]
        if self.aws.endpoint_url:
            extra += ["--endpoint-url", self.aws.endpoint_url]
        return shlex.join(["aws", *words, *extra])
