"""Instrument drivers and their simulated twins (``instruments.sim``)."""
