"""Prefect flows, tasks and deployments around the core loop (to come: see the Prefect issue).

The loop itself lives in :mod:`cfl.engine` and runs in-process; this package will wrap it, never
duplicate it.
"""
