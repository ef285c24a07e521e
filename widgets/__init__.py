"""Small reusable Textual widgets; they know cockpit.core, never providers."""
