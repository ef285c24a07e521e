"""Adapters to the outside world (metric sources now; rollback providers later). No Textual."""
