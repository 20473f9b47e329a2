"""Benchmarks: figures measured against known truths, run by command, never as timed tests.

``python -m benchmarks.demo_check`` measures the demo campaign against the simulator's truth.
"""
