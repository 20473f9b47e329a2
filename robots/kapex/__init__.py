"""The KAPEX driver: the contract's client, its transport seam, and the CFL device adapter."""
