"""Prometheus metric sources: api (a Prometheus server's HTTP API, one instant query per metric)
and scrape (a /metrics endpoint read directly, for jump hosts that cannot reach a Prometheus).

Each is its own entry point (`prometheus`, `prometheus_scrape`); nothing is imported here, so
loading one does not import the other.
"""
