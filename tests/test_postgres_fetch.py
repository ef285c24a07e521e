"""restore_backup from S3 and R2: fetched from moto's real HTTP server, checked, restored.

An `.sql.gz` uploaded to a moto bucket is fetched by the postgres provider through boto3 over
HTTP, its sha256 checked against the object's metadata, a `<key>.sha256` object or the
parameter, and restored into the real PostgreSQL 15 the other postgres tests use. Each bad
input (unknown key or bucket, a wrong checksum, too large, refused or expired credentials,
throttling, a download cut short) is refused with the object's name before the restore is
planned, and leaves the database, the scratch databases and the backup folder as they were.

moto checks credentials only when asked (/moto-api/reset-auth): that gives InvalidAccessKeyId
and SignatureDoesNotMatch. It never answers ExpiredToken, SlowDown or a short body, so those
come from `FaultyFront`, a proxy in front of moto that answers them as S3 does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import moto_server as moto
import postgres_server
import pytest
from moto_server import KEY_ID, SECRET, FaultyFront, MotoServer, set_last_modified
from postgres_server import PostgresServer, Shop, scratch_databases
from test_postgres_sql_restore import dump_plain, recorded, recorder

from cockpit import action_runner
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline

postgres = postgres_server.postgres
shop = postgres_server.shop
moto_server = moto.moto_server
faulty_front = moto.faulty_front
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BUCKET = "pitchey-backups"
KEY = "db/backup_20240115_020000.sql.gz"
URL = f"s3://{BUCKET}/{KEY}"


@pytest.fixture
def store(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty bucket in moto, and the test's credentials in the environment.

    moto's backends are shared by every moto server in the test process (tests/aws_world.py
    uses them too), so the bucket is emptied and removed afterwards instead of a global reset.
    """
    monkeypatch.setenv("TEST_S3_KEY_ID", KEY_ID)
    monkeypatch.setenv("TEST_S3_SECRET", SECRET)
    s3 = moto_server.client()
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    listed = s3.list_object_versions(Bucket=BUCKET)
    for item in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def s3_shop(postgres: PostgresServer, store: Any) -> Iterator[Shop]:
    """A shop dumped (plain SQL, gzip'd) and uploaded with its sha256, then damaged."""
    with Shop(postgres) as shop:
        plain = shop.dir / "backup.sql"
        dump_plain(shop, plain)
        shop.gz = gzip.compress(plain.read_bytes())
        plain.unlink()
        digest = hashlib.sha256(shop.gz).hexdigest()
        store.put_object(Bucket=BUCKET, Key=KEY, Body=shop.gz, Metadata={"sha256": digest})
        shop.execute("DELETE FROM orders WHERE id > 120")
        shop.execute("UPDATE customers SET email = NULL WHERE id <= 3")
        yield shop


def bucket_options(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint_url": url,
        "region": "us-east-1",
        "access_key_id": {"env": "TEST_S3_KEY_ID"},
        "secret_access_key": {"env": "TEST_S3_SECRET"},
        "timeout_seconds": 5.0,
        **overrides,
    }


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry backoff, asked for and recorded, but not slept: tests do not wait on
    the wall clock for a delay they can see."""
    from botocore.retries.standard import ExponentialBackoff

    asked: list[float] = []
    real = ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        asked.append(real(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", delay_amount)
    return asked


def provider_on(shop: Shop, url: str, **overrides: Any) -> Any:
    return shop.provider(s3=bucket_options(url, **overrides))


def untouched(shop: Shop) -> None:
    """The damaged state, no scratch database, no emergency backup, no file left behind."""
    assert shop.count("orders") == 120
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 3
    assert scratch_databases(shop.server) == []
    left = [p.name for p in shop.backups.rglob("*") if p.is_file()]
    assert left == [], left


def test_an_sql_gz_in_s3_is_fetched_verified_and_restored(
    s3_shop: Shop, moto_server: MotoServer, timeline: Timeline
) -> None:
    shop = s3_shop
    provider = provider_on(shop, moto_server.url)
    plan = provider.preflight("restore_backup", {"backup": URL})
    fetched = shop.backups / "fetched" / "backup_20240115_020000.sql.gz"
    assert fetched.read_bytes() == shop.gz
    assert stat.S_IMODE(fetched.stat().st_mode) == 0o600
    assert not list(fetched.parent.glob("*.part"))
    about = next(line for line in plan.changes if line.startswith(f"{fetched.name}: "))
    assert "gzip'd plain SQL" in about
    assert "matches backup_20240115_020000.sql.gz.sha256" in about
    assert f"fetched from {URL}, {len(shop.gz):,} bytes" in about
    assert "sha256 checked against the object's sha256 metadata" in about
    text = json.dumps(plan.as_payload())
    assert SECRET not in text and shop.server.password not in text
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "succeeded", result.summary
    assert shop.count("orders") == 200
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 0
    assert SECRET not in json.dumps(recorded(timeline), default=str)


def test_the_sha256_may_come_from_a_sidecar_object_or_the_parameter(
    s3_shop: Shop, store: Any, moto_server: MotoServer
) -> None:
    shop = s3_shop
    digest = hashlib.sha256(shop.gz).hexdigest()
    store.put_object(Bucket=BUCKET, Key=KEY, Body=shop.gz)  # no metadata now
    store.put_object(Bucket=BUCKET, Key=KEY + ".sha256", Body=f"{digest}  backup.sql.gz\n")
    provider = provider_on(shop, moto_server.url)
    plan = provider.preflight("restore_backup", {"backup": URL, "sha256": digest})
    about = next(line for line in plan.changes if "fetched from" in line)
    assert f"the sha256 parameter and {KEY}.sha256" in about
    assert scratch_databases(shop.server) == []


def test_a_version_is_fetched_by_version_id(
    s3_shop: Shop, store: Any, moto_server: MotoServer
) -> None:
    shop = s3_shop
    store.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    good = store.put_object(Bucket=BUCKET, Key=KEY, Body=shop.gz)["VersionId"]
    store.put_object(Bucket=BUCKET, Key=KEY, Body=gzip.compress(b"SELECT 'a later backup';\n"))
    provider = provider_on(shop, moto_server.url)
    for params in ({"backup": URL, "version_id": good}, {"backup": f"{URL}?versionId={good}"}):
        plan = provider.preflight("restore_backup", params)
        about = next(line for line in plan.changes if "fetched from" in line)
        assert f"(version {good})" in about
        assert (shop.backups / "fetched" / Path(KEY).name).read_bytes() == shop.gz


def test_r2_goes_to_the_accounts_endpoint_with_region_auto(
    s3_shop: Shop, moto_server: MotoServer
) -> None:
    from providers.postgres.object_store import BucketOptions, client, endpoint

    options = BucketOptions(account_id="0123abcd")
    assert endpoint("r2", options) == "https://0123abcd.r2.cloudflarestorage.com"
    made = client("r2", options)
    assert made.meta.region_name == "auto"
    assert made.meta.endpoint_url == "https://0123abcd.r2.cloudflarestorage.com"
    shop = s3_shop
    r2 = bucket_options(moto_server.url, account_id="0123abcd")
    provider = shop.provider(r2=r2)
    plan = provider.preflight("restore_backup", {"backup": f"r2://{BUCKET}/{KEY}"})
    assert any(f"fetched from r2://{BUCKET}/{KEY}" in line for line in plan.changes)
    with pytest.raises(ProviderError, match="R2 keeps no object versions"):
        provider.preflight("restore_backup", {"backup": f"r2://{BUCKET}/{KEY}", "version_id": "x"})
    with pytest.raises(ProviderError, match=r"r2\.account_id"):
        shop.provider().preflight("restore_backup", {"backup": f"r2://{BUCKET}/{KEY}"})


def test_candidates_under_a_prefix_are_the_patterns_newest_first(
    shop: Shop, store: Any, moto_server: MotoServer
) -> None:
    names = ["backup_20240113.sql.gz", "backup_20240115.sql.gz", "backup_20240114.sql.gz"]
    for day, name in zip((13, 15, 14), names, strict=True):
        store.put_object(Bucket=BUCKET, Key=f"db/{name}", Body=b"x" * 2000)
        set_last_modified(BUCKET, f"db/{name}", datetime(2024, 1, day, 2, 0))  # noqa: DTZ001
    store.put_object(Bucket=BUCKET, Key="db/notes.txt", Body=b"x")
    store.put_object(Bucket=BUCKET, Key="other/backup_20240116.sql.gz", Body=b"x")
    provider = provider_on(shop, moto_server.url)
    params = {"backup_prefix": f"s3://{BUCKET}/db/", "backup_pattern": "backup_*.sql.gz"}
    found = provider.choices("restore_backup", "backup", params)
    assert [value for value, _ in found] == [
        f"s3://{BUCKET}/db/backup_20240115.sql.gz",
        f"s3://{BUCKET}/db/backup_20240114.sql.gz",
        f"s3://{BUCKET}/db/backup_20240113.sql.gz",
    ]
    assert found[0][1] == "backup_20240115.sql.gz · 0.0 MB · 2024-01-15 02:00 UTC"


def bad_input(shop: Shop, store: Any, case: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(bucket options, params, the refusal expected) for each bad input."""
    options: dict[str, Any] = {}
    params: dict[str, Any] = {"backup": URL}
    if case == "no such key":
        params["backup"] = f"s3://{BUCKET}/db/backup_19990101.sql.gz"
        said = f"no such object \\(s3://{BUCKET}/db/backup_19990101.sql.gz\\)"
    elif case == "no such bucket":
        params["backup"] = "s3://no-such-bucket/db/backup.sql.gz"
        said = "no such bucket \\(bucket no-such-bucket\\)"
    elif case == "metadata sha256 differs":
        store.put_object(Bucket=BUCKET, Key=KEY, Body=shop.gz, Metadata={"sha256": "0" * 64})
        said = f"{URL}: sha256 .* does not match the object's sha256 metadata"
    elif case == "sidecar sha256 differs":
        store.put_object(Bucket=BUCKET, Key=KEY, Body=shop.gz)
        store.put_object(Bucket=BUCKET, Key=KEY + ".sha256", Body="f" * 64)
        said = f"does not match {KEY}.sha256"
    elif case == "parameter sha256 differs":
        params["sha256"] = "a" * 64
        said = "does not match the sha256 parameter"
    else:  # "too large"
        options["max_bytes"] = 1000
        said = f"{URL} is .* bytes, over the 1,000-byte limit"
    return options, params, said


@pytest.mark.parametrize(
    "case",
    [
        "no such key",
        "no such bucket",
        "metadata sha256 differs",
        "sidecar sha256 differs",
        "parameter sha256 differs",
        "too large",
    ],
)
def test_bad_objects_are_refused_before_anything_is_touched(
    s3_shop: Shop, store: Any, moto_server: MotoServer, case: str
) -> None:
    options, params, said = bad_input(s3_shop, store, case)
    provider = provider_on(s3_shop, moto_server.url, **options)
    with pytest.raises(ProviderError, match=said) as refused:
        provider.preflight("restore_backup", params)
    assert "nothing" in str(refused.value) or case == "too large"
    untouched(s3_shop)


def test_refused_credentials_name_the_object(
    s3_shop: Shop, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    user = f"restorer-{os.getpid()}-{id(s3_shop)}"  # moto's IAM is shared by the process
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    moto_server.enforce_auth(True)
    try:
        monkeypatch.setenv("TEST_S3_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("TEST_S3_SECRET", "not-the-secret-" + key["SecretAccessKey"][:4])
        with pytest.raises(
            ProviderError,
            match=f"cannot fetch {URL}: credentials refused "
            r"\(SignatureDoesNotMatch",
        ):
            provider_on(s3_shop, moto_server.url).preflight("restore_backup", {"backup": URL})
        monkeypatch.setenv("TEST_S3_KEY_ID", "AKIANOTKNOWNHERE0000")
        with pytest.raises(ProviderError, match=r"credentials refused \(InvalidAccessKeyId"):
            provider_on(s3_shop, moto_server.url).preflight("restore_backup", {"backup": URL})
        untouched(s3_shop)
        monkeypatch.setenv("TEST_S3_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("TEST_S3_SECRET", key["SecretAccessKey"])
        provider = provider_on(s3_shop, moto_server.url)
        plan = provider.preflight("restore_backup", {"backup": URL})
        assert key["SecretAccessKey"] not in json.dumps(plan.as_payload())
    finally:
        moto_server.enforce_auth(False)


@pytest.mark.parametrize(
    ("errors", "said"),
    [
        ([(400, "ExpiredToken")], r"credentials refused \(ExpiredToken: the session token has"),
        ([(503, "SlowDown")] * 3, r"still throttled \(SlowDown\) after 3 attempts"),
    ],
)
def test_expired_tokens_and_throttling_past_the_retries_are_refused(
    s3_shop: Shop,
    faulty_front: FaultyFront,
    backoffs: list[float],
    errors: list[tuple[int, str]],
    said: str,
) -> None:
    faulty_front.errors = list(errors)
    provider = provider_on(s3_shop, faulty_front.url, max_attempts=3)
    with pytest.raises(ProviderError, match=f"cannot fetch {URL}: {said}"):
        provider.preflight("restore_backup", {"backup": URL})
    assert faulty_front.errors == []
    assert len([s for s in faulty_front.seen if s.startswith("GET")]) == len(errors)
    assert len(backoffs) == len(errors) - 1 and all(0 <= d <= 20 for d in backoffs)
    untouched(s3_shop)


def test_throttling_within_the_retries_is_waited_out(
    s3_shop: Shop, faulty_front: FaultyFront, backoffs: list[float]
) -> None:
    faulty_front.errors = [(503, "SlowDown"), (503, "SlowDown")]
    provider = provider_on(s3_shop, faulty_front.url, max_attempts=3)
    plan = provider.preflight("restore_backup", {"backup": URL})
    assert any("fetched from" in line for line in plan.changes)
    assert len(backoffs) == 2


def test_a_download_cut_short_is_removed_and_refused(
    s3_shop: Shop, faulty_front: FaultyFront
) -> None:
    faulty_front.cut_after = 500
    provider = provider_on(s3_shop, faulty_front.url, max_attempts=1)
    with pytest.raises(ProviderError, match=f"the download of {URL} was cut short"):
        provider.preflight("restore_backup", {"backup": URL})
    untouched(s3_shop)


def test_progress_is_told_for_large_objects(tmp_path: Path, store: Any) -> None:
    from providers.postgres.object_store import BucketOptions, ObjectUrl
    from providers.postgres.s3_fetch import download

    body = os.urandom(20 << 20)
    store.put_object(Bucket=BUCKET, Key="big.sql.gz", Body=body)
    told: list[tuple[int, int]] = []
    path = download(
        store,
        ObjectUrl("s3", BUCKET, "big.sql.gz"),
        tmp_path,
        BucketOptions(),
        progress=lambda done, size: told.append((done, size)),
    )
    assert path.stat().st_size == len(body)
    assert len(told) >= 10 and told[-1][0] == len(body)
    assert all(size == len(body) for _, size in told)


def test_pitcheys_data_restore_lists_and_fetches_its_r2_backups(
    s3_shop: Shop, store: Any, moto_server: MotoServer
) -> None:
    """checklists/pitchey.yaml's db-data option, as the action screen runs it: the candidates
    under its R2 folder, newest first, then the chosen one fetched and planned."""
    from cockpit.core.procedure_loader import load_builtin

    option = next(o for o in load_builtin("pitchey").options if o.id == "db-data")
    params = dict(option.params)
    assert params["backup_prefix"] == f"r2://{BUCKET}/db/"
    store.put_object(Bucket=BUCKET, Key="db/backup_20240114_020000.sql.gz", Body=b"x" * 200)
    set_last_modified(BUCKET, "db/backup_20240114_020000.sql.gz", datetime(2024, 1, 14))  # noqa: DTZ001
    set_last_modified(BUCKET, KEY, datetime(2024, 1, 15, 2))  # noqa: DTZ001
    provider = s3_shop.provider(r2=bucket_options(moto_server.url, account_id="0123abcd"))
    found = provider.choices(option.action, "backup", params)
    assert [value for value, _ in found] == [
        f"r2://{BUCKET}/{KEY}",
        f"r2://{BUCKET}/db/backup_20240114_020000.sql.gz",
    ]
    plan = provider.preflight(option.action, {**params, "backup": found[0][0]})
    assert any(f"fetched from r2://{BUCKET}/{KEY}" in line for line in plan.changes)
    assert not [w for w in plan.warnings if "ignored" in w]
    # Without R2 configured here, the folder's own files are offered (a download by hand).
    (s3_shop.backups / "backup_20240113_020000.sql.gz").write_bytes(s3_shop.gz)
    local = s3_shop.provider().choices(option.action, "backup", params)
    assert [Path(value).name for value, _ in local] == ["backup_20240113_020000.sql.gz"]


def test_no_credentials_anywhere_is_said_before_anything(
    s3_shop: Shop, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(s3_shop.dir / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(s3_shop.dir / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    provider = s3_shop.provider(s3={"endpoint_url": moto_server.url, "region": "us-east-1"})
    with pytest.raises(ProviderError, match=f"cannot fetch {URL}: no credentials"):
        provider.preflight("restore_backup", {"backup": URL})
    untouched(s3_shop)


def test_the_readme_r2_example_is_valid_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import tomllib

    from providers.postgres import PostgresOptions

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "r2]" in b)
    secret = tmp_path / "r2"
    secret.write_text("r2-secret-value\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:5432/app")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "r2-key-id")
    options = tomllib.loads(block.replace("/run/secrets/r2", str(secret)))
    parsed = PostgresOptions.model_validate(options["providers"]["postgres"]["options"])
    assert parsed.r2 is not None and parsed.r2.account_id
    assert "r2-secret-value" not in repr(parsed)
