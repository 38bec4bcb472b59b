"""The IVR: runs the declarative flows of ``ivr_flows/`` on a call (or on a simulated one)."""
