"""The `aws_rds` action provider: restore a DB snapshot into a new instance, next to the old one.

RestoreDBInstanceFromDBSnapshot cannot write into an existing instance, so the restore gets its
own identifier (`<instance>-restored` by default) and the old instance is left running for the
responder to compare, rename or delete. The new instance takes the source's subnet group and
security groups so the application can reach it; its endpoint is handed on (the result's
`endpoint`) for the next step, pointing DATABASE_URL at it. The plan warns of the cost (a second
instance billed until deleted) and the time (10-40+ minutes; the wait is bounded by the options).
There is no automatic undo: deleting a database is left to a human.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from cockpit.core.actions import ActionTimedOut, Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.aws.session import AwsOptions, Caller, code_of, failure
from providers.base import ActionProvider, Capability, Param, Params

NOTHING = "nothing was changed"
FAILED = ("deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters")


class RdsOptions(AwsOptions):
    """Where RDS is and how long a restore may take."""

    restore_seconds: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    """How long execute waits for the new instance to be available (AWS's waiter: 30 min)."""
    poll_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)


class RdsProvider(ActionProvider):
    """Restore an RDS snapshot under a new instance identifier."""

    name = "aws_rds"
    title = "AWS RDS (restore from snapshot)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = RdsOptions
    actions: ClassVar[dict[str, str]] = {
        "restore_snapshot": "restore a DB snapshot (by default the instance's newest) into a new "
        "instance, wait until it is available and hand on its endpoint",
    }
    action_params: ClassVar[dict[str, Params]] = {
        "restore_snapshot": {
            "instance": Param("the DB instance whose snapshot to restore", required=True),
            "snapshot": Param("the snapshot's identifier or ARN (default: the newest)"),
            "new_instance": Param(
                "the restored instance's identifier (default: <instance>-restored)"
            ),
            "instance_class": Param("the restored instance's class (default: the snapshot's)"),
        }
    }

    def __init__(self, options: RdsOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.aws = Caller("rds", options)

    def close(self) -> None:
        self.aws.close()

    def health(self) -> str:
        answer = self.aws.call("RDS DescribeDBInstances", "describe_db_instances", MaxRecords=20)
        return f"RDS answers: {len(answer.get('DBInstances', []))} instance(s) visible"

    def snapshots(self, instance: str) -> list[dict[str, Any]]:
        """The instance's available snapshots, newest first."""
        answer = self.aws.call(
            f"RDS DescribeDBSnapshots {instance}",
            "describe_db_snapshots",
            DBInstanceIdentifier=instance,
        )
        found = [s for s in answer.get("DBSnapshots", []) if s.get("Status") == "available"]
        return sorted(found, key=lambda s: s.get("SnapshotCreateTime") or 0, reverse=True)

    def instance(self, identifier: str) -> dict[str, Any] | None:
        try:
            answer = self.aws.client.describe_db_instances(DBInstanceIdentifier=identifier)
        except Exception as error:
            if code_of(error) == "DBInstanceNotFound":
                return None
            raise failure(
                error, f"RDS DescribeDBInstances {identifier}", self.opts.max_attempts
            ) from error
        found: dict[str, Any] = answer["DBInstances"][0]
        return found

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param != "snapshot" or not params.get("instance"):
            return []
        return [
            (
                s["DBSnapshotIdentifier"],
                f"{s.get('SnapshotType', '?')} snapshot of {s.get('SnapshotCreateTime', '?')}",
            )
            for s in self.snapshots(str(params["instance"]))
        ]

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        merged = {**params, **self.fixed_for(action)}
        source = str(merged.get("instance") or "")
        if not source:
            raise ProviderError("restore_snapshot needs instance")
        new = str(merged.get("new_instance") or f"{source}-restored")
        if self.instance(new) is not None:
            raise ProviderError(
                f"an instance {new} exists already: name the restore (new_instance) or delete it"
            )
        snapshots = self.snapshots(source)
        wanted = merged.get("snapshot")
        if wanted:
            snapshot = str(wanted)
            if snapshot not in {s["DBSnapshotIdentifier"] for s in snapshots} | {
                s.get("DBSnapshotArn") for s in snapshots
            }:
                raise ProviderError(f"no available snapshot {snapshot} of {source}")
        elif snapshots:
            snapshot = snapshots[0]["DBSnapshotIdentifier"]
        else:
            raise ProviderError(f"{source} has no available snapshot to restore")
        request: dict[str, Any] = {"DBInstanceIdentifier": new, "DBSnapshotIdentifier": snapshot}
        if merged.get("instance_class"):
            request["DBInstanceClass"] = str(merged["instance_class"])
        original = self.instance(source)
        if original is not None:
            group = (original.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
            if group:
                request["DBSubnetGroupName"] = group
            security = [g["VpcSecurityGroupId"] for g in original.get("VpcSecurityGroups", [])]
            if security:
                request["VpcSecurityGroupIds"] = security
        words = [
            "rds",
            "restore-db-instance-from-db-snapshot",
            "--db-instance-identifier",
            new,
            "--db-snapshot-identifier",
            snapshot,
        ]
        if "DBInstanceClass" in request:
            words += ["--db-instance-class", request["DBInstanceClass"]]
        minutes = self.opts.restore_seconds / 60
        return Plan(
            provider=self.name,
            action=action,
            target=new,
            title=f"Restore snapshot {snapshot} of {source} as {new}",
            calls=[
                Call("POST", "rds://RestoreDBInstanceFromDBSnapshot", request),
                Call("POST", "rds://DescribeDBInstances", {"DBInstanceIdentifier": new}),
            ],
            changes=[f"a new instance {new} from snapshot {snapshot}; {source} is left as it is"],
            cli=self.aws.cli(*words),
            timeout_seconds=self.opts.restore_seconds + 120,
            verify=f"{new} is available and has an endpoint",
            data={"source": source, "new": new, "snapshot": snapshot, "request": request},
            warnings=[
                f"cost: {new} is a second instance, billed until someone deletes it",
                f"time: a restore takes 10-40+ minutes; the cockpit waits up to {minutes:.0f} min",
                "the application still uses the old database until DATABASE_URL names the new "
                "endpoint",
            ],
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        new, request = plan.data["new"], plan.data["request"]
        report.progress(0.05, f"restoring {plan.data['snapshot']} as {new}")
        self.aws.call(
            f"RDS RestoreDBInstanceFromDBSnapshot {new}",
            "restore_db_instance_from_db_snapshot",
            NOTHING,
            **request,
        )
        started = report.monotonic()
        while True:
            found = self.instance(new)
            status = found.get("DBInstanceStatus", "?") if found else "not listed yet"
            waited = report.monotonic() - started
            report.progress(0.1 + 0.8 * min(1.0, waited / self.opts.restore_seconds), status)
            if found and status == "available":
                endpoint = found.get("Endpoint") or {}
                address = f"{endpoint.get('Address', '?')}:{endpoint.get('Port', '?')}"
                return Executed(
                    f"{new} is available at {address}", {"endpoint": address, "instance": new}
                )
            if status in FAILED:
                raise ProviderError(f"the restore of {new} ended {status}")
            if waited >= self.opts.restore_seconds:
                raise ActionTimedOut(
                    f"{new} still {status} after {waited:.0f} s; the restore goes on in AWS"
                )
            report.sleep(self.opts.poll_seconds)

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        found = self.instance(plan.data["new"])
        if found is None or found.get("DBInstanceStatus") != "available":
            return Verified(False, f"{plan.data['new']} is not available")
        return Verified(True, f"{plan.data['new']} is available at {executed.data['endpoint']}")
