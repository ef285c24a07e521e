"""Package data: the built-in rollback procedures, one YAML file per team runbook."""
