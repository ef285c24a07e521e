"""The `aws_s3` action provider: put back an earlier version of an object in a versioned bucket.

Restoring version N is a copy of N onto the same key (CopyObject with CopySource VersionId), so
the bad version stays in the history and the undo is the same action with the version that was
current at the plan. Execute lists the versions again and refuses when the chosen one vanished
or the object moved since the plan. Verify compares the new current version with the chosen one
by ETag, or by content when the ETags cannot match (a multipart upload's ETag is no digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.aws.session import AwsOptions, Caller, failure
from providers.base import ActionProvider, Capability, Param, Params

NOTHING = "nothing was changed"
MiB = 1 << 20


class S3Options(AwsOptions):
    """Where S3 is, and how large an object verify may read to compare contents."""

    compare_max_bytes: int = Field(default=64 * MiB, gt=0)


class S3Provider(ActionProvider):
    """Restore an earlier version of an S3 object."""

    name = "aws_s3"
    title = "AWS S3 (object versions)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = S3Options
    actions: ClassVar[dict[str, str]] = {
        "restore_version": "make an earlier version of an object current again (a copy of it "
        "onto the same key; by default the version before the current one)",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "restore_version": {
            "bucket": Param("the versioned bucket", required=True),
            "key": Param("the object's key", required=True),
            "version_id": Param("the version to restore (default: the one before the current)"),
        }
    }

    def __init__(self, options: S3Options) -> None:
        super().__init__(options)
        self.opts = options
        self.aws = Caller("s3", options)

    def close(self) -> None:
        self.aws.close()

    def health(self) -> str:
        answer = self.aws.call("S3 ListBuckets", "list_buckets")
        where = self.opts.endpoint_url or f"AWS {self.opts.region}"
        return f"S3 at {where} answers: {len(answer.get('Buckets', []))} bucket(s) visible"

    def versions(self, bucket: str, key: str, after: str = "") -> list[dict[str, Any]]:
        """The object's versions and delete markers, newest first (`Deleted` on markers)."""
        found: list[dict[str, Any]] = []
        marker: dict[str, str] = {}
        for _page in range(100):
            answer = self.aws.call(
                f"S3 ListObjectVersions s3://{bucket}/{key}",
                "list_object_versions",
                after,
                Bucket=bucket,
                Prefix=key,
                **marker,
            )
            found += [v for v in answer.get("Versions", []) if v["Key"] == key]
            found += [
                {**d, "Deleted": True} for d in answer.get("DeleteMarkers", []) if d["Key"] == key
            ]
            if not answer.get("IsTruncated"):
                break
            marker = {
                "KeyMarker": answer["NextKeyMarker"],
                "VersionIdMarker": answer["NextVersionIdMarker"],
            }
        found.sort(key=lambda v: (not v.get("IsLatest"), -v["LastModified"].timestamp()))
        return found

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "version_id" or not (params.get("bucket") and params.get("key")):
            return []
        found = self.versions(str(params["bucket"]), str(params["key"]))
        return [(v["VersionId"], line(v)) for v in found if not v.get("IsLatest")]

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        merged = {**params, **self.fixed_for(action)}
        bucket, key = str(merged.get("bucket") or ""), str(merged.get("key") or "")
        if not bucket or not key:
            raise ProviderError("restore_version needs bucket and key")
        found = self.versions(bucket, key)
        where = f"s3://{bucket}/{key}"
        if not found:
            raise ProviderError(f"{where}: no such object (no versions at all)")
        current = found[0] if found[0].get("IsLatest") else None
        older = [v for v in found if v is not current and not v.get("Deleted")]
        wanted = merged.get("version_id")
        if wanted:
            chosen = next((v for v in found if v["VersionId"] == str(wanted)), None)
            if chosen is None:
                raise ProviderError(f"{where} has no version {wanted}: pick one of its versions")
            if chosen is current:
                raise ProviderError(f"version {wanted} is already the current one of {where}")
            if chosen.get("Deleted"):
                raise ProviderError(f"version {wanted} of {where} is a delete marker")
        elif older:
            chosen = older[0]
        else:
            raise ProviderError(f"{where} has no earlier version to restore")
        source = f"{bucket}/{key}?versionId={chosen['VersionId']}"
        before = "deleted (a delete marker)" if current and current.get("Deleted") else None
        now_text = before or (line(current) if current else "none")
        undo = None
        warnings = []
        if current and not current.get("Deleted"):
            undo = {
                "action": "restore_version",
                "params": {"bucket": bucket, "key": key, "version_id": current["VersionId"]},
            }
        else:
            warnings.append("the object is deleted now: there is no version to undo back to")
        return Plan(
            provider=self.name,
            action=action,
            target=where,
            title=f"Restore {where} to version {chosen['VersionId']}",
            calls=[
                Call("GET", f"{self._url(bucket)}?versions&prefix={key}"),
                Call("PUT", f"{self._url(bucket)}/{key}", {"x-amz-copy-source": source}),
            ],
            changes=[f"{where}: current {now_text} → a copy of {line(chosen)}"],
            cli=self.aws.cli(
                "s3api", "copy-object", "--bucket", bucket, "--key", key, "--copy-source", source
            ),
            timeout_seconds=self.opts.timeout_seconds * self.opts.max_attempts * 4 + 30,
            verify="the current version's ETag (or content) is the chosen version's",
            undo=undo,
            data={
                "bucket": bucket,
                "key": key,
                "version_id": chosen["VersionId"],
                "etag": chosen.get("ETag", ""),
                "current": current["VersionId"] if current else None,
            },
            warnings=warnings,
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        bucket, key, version = plan.data["bucket"], plan.data["key"], plan.data["version_id"]
        where = f"s3://{bucket}/{key}"
        report.progress(0.1, f"checking {where} has not moved since the plan")
        found = self.versions(bucket, key, NOTHING)
        if not any(v["VersionId"] == version for v in found):
            raise ProviderError(f"version {version} of {where} is gone since the plan; {NOTHING}")
        latest = found[0]["VersionId"] if found and found[0].get("IsLatest") else None
        if latest != plan.data["current"]:
            raise ProviderError(
                f"{where} changed since the plan (current {plan.data['current']} → {latest}); "
                f"plan again; {NOTHING}"
            )
        report.check()
        report.progress(0.5, f"copying version {version} onto {where}")
        answer = self.aws.call(
            f"S3 CopyObject {where} from version {version}",
            "copy_object",
            NOTHING,
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key, "VersionId": version},
        )
        new = answer.get("VersionId", "")
        report.progress(1.0, f"{where}: new current version {new} (a copy of {version})")
        return Executed(
            f"{where} restored to version {version} (new version {new})",
            {"new_version_id": new, "copied": answer.get("CopySourceVersionId", version)},
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        bucket, key, version = plan.data["bucket"], plan.data["key"], plan.data["version_id"]
        where = f"s3://{bucket}/{key}"
        head = self.aws.call(f"S3 HeadObject {where}", "head_object", Bucket=bucket, Key=key)
        now = head.get("VersionId")
        expected = executed.data.get("new_version_id")
        if expected and now != expected:
            return Verified(False, f"{where}: current version is {now}, not the copy {expected}")
        if head.get("ETag") == plan.data["etag"]:
            return Verified(True, f"{where}: current ETag {head['ETag']} is version {version}'s")
        size = int(head.get("ContentLength") or 0)
        if size > self.opts.compare_max_bytes:
            return Verified(
                False,
                f"{where}: ETag {head.get('ETag')} differs from version {version}'s "
                f"{plan.data['etag']} and it is too large ({size} bytes) to compare contents",
            )
        same = self._digest(bucket, key, now) == self._digest(bucket, key, version)
        verdict = "the same content as" if same else "NOT the content of"
        return Verified(same, f"{where}: current version {now} has {verdict} version {version}")

    def _digest(self, bucket: str, key: str, version: str | None) -> str:
        extra = {"VersionId": version} if version else {}
        answer = self.aws.call(
            f"S3 GetObject s3://{bucket}/{key}", "get_object", Bucket=bucket, Key=key, **extra
        )
        digest = hashlib.sha256()
        body = answer["Body"]
        try:
            for chunk in iter(lambda: body.read(MiB), b""):
                digest.update(chunk)
        except Exception as error:  # a read cut short or timed out, as botocore raises it
            doing = f"S3 GetObject s3://{bucket}/{key} (reading it to compare)"
            raise failure(error, doing, self.opts.max_attempts) from error
        finally:
            body.close()
        return digest.hexdigest()

    def _url(self, bucket: str) -> str:
        return f"{self.opts.endpoint_url or 'https://s3.amazonaws.com'}/{bucket}"


def line(version: dict[str, Any]) -> str:
    """'version 3Lg… of 2026-12-02 10:00 UTC, 1234 bytes, ETag "ab12…"'."""
    when = version["LastModified"].strftime("%Y-%m-%d %H:%M:%S UTC")
    if version.get("Deleted"):
        return f"delete marker {version['VersionId']} of {when}"
    etag = str(version.get("ETag", "")).strip('"')[:12]
    return f"version {version['VersionId']} of {when}, {version.get('Size', 0)} bytes, ETag {etag}"
