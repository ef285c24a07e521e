"""The cockpit's screens: dashboard, procedure, timeline, help and modals."""
