"""Pure domain logic: procedures, timeline, metrics, clock. No Textual, no Rich, no providers."""
