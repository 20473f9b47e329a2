"""The KAPEX humanoid: driver contract and simulated twin (``robots.sim_kapex``)."""
