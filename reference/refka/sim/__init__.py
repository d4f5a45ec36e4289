"""Deterministic simulation beside the code: drivers for several cores in one process."""
