"""PostgreSQL: a verified backup, a restore from one, a migration undone (see provider.py).

One module per concern: provider (options and the ActionProvider), plans (what each action
will run, read-only), run (execute and verify), tools (pg_dump and pg_restore, and the scratch
restore that checks a backup), db (the connection and read-only looks at a database), archive
(what is known about a backup file, its sidecar record), locks (a lock_timeout for pg_restore)
and migrations (the migration tools' tables and the down scripts). A restore's file is found by
source (a local path; a fetcher plugs in there), told apart and checked by backup_file (custom
or tar archive, plain or gzip'd SQL, sha256), planned by restore_plan and, when it is SQL,
restored by psql (one transaction, streamed through stdin).
"""

from providers.postgres.provider import PostgresOptions, PostgresProvider

__all__ = ["PostgresOptions", "PostgresProvider"]
