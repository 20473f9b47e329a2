"""The simulated KAPEX: a deterministic kinematic robot that acts on the shared bench."""
