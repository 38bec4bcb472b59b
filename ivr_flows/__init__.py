"""The hotline's declarative IVR flows (data) and their loader (filled in by the IVR issue)."""
