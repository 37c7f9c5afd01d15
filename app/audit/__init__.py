"""The audit log (SPEC §11)."""
