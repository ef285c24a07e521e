"""Rollback Cockpit: a terminal incident cockpit for rollbacks.

Importing this package must stay cheap and must never load Textual: the headless commands
(`cockpit timeline verify`, `cockpit procedures validate`, ...) start from here.
"""

__version__ = "0.1.0"
