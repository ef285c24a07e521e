"""The PostgreSQL provider against a real PostgreSQL 15: a fresh shop database per case.

All cases share the test process's throwaway cluster (tests/postgres_server.py); each gets its
own database, backup folder and copy of the down scripts (`Shop`), dropped on exit. The provider
connects over TCP with the `cockpit` role's password, which is the case's `token`: the contract
looks for it in every plan and in everything recorded. Skipped, with the reason, where PostgreSQL
cannot run.
"""

from __future__ import annotations

from typing import Any

from postgres_server import Shop

from providers.base import ActionProvider

from . import Case


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    assert isinstance(setup, Shop)
    provider: ActionProvider = setup.provider(**overrides)
    return provider


def _backed_up(setup: Any) -> bool:
    made = list(setup.backups.glob(f"{setup.dbname}-*.dump"))
    return len(made) == 1 and (made[0].stat().st_mode & 0o777) == 0o600


def _restored(setup: Any) -> bool:
    nulls = setup.scalar("SELECT count(*) FROM customers WHERE email IS NULL")
    return bool(setup.count("orders") == 200 and nulls == 0)


def _migrated_down(setup: Any) -> bool:
    return "status" not in setup.columns("orders") and setup.versions() == [
        "20240115120000",
        "20240101120000",
    ]


CASES = [
    Case("postgres.backup", Shop, _provider, "backup", {}, _backed_up, http=False),
    Case(
        "postgres.restore_backup",
        lambda: Shop(damaged=True),
        _provider,
        "restore_backup",
        {"backup": "before-deploy.dump"},
        _restored,
        http=False,
    ),
    Case(
        "postgres.migrate_down",
        Shop,
        _provider,
        "migrate_down",
        {"steps": 1},
        _migrated_down,
        http=False,
    ),
]
