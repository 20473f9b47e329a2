"""Simulated instruments: each behaves like its real counterpart, on the lab clock."""
