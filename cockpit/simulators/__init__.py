"""Protocol-faithful simulators of the platform APIs the cockpit rolls back through.

They ship in the package: the demo runs against them and the tests use them over real HTTP on
127.0.0.1. Each reproduces its platform's documented endpoints, status codes, error envelopes,
rate limits and asynchronous jobs (../shared/reference/provider_apis.md), and nothing more.
"""
