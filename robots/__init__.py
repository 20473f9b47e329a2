"""The KAPEX humanoid: its driver contract, simulator, safety policy, world model and episodes.

``contract`` and ``messages`` (the goal contract and its wire shapes), ``skills`` (the catalogue),
``safety`` (the declarative policy), ``world`` (where samples are), ``layout`` (where locations
are), ``recording`` (episodes), ``sim/`` (the kinematic simulator), ``kapex/`` (the client, the
transport seam and the CFL device ``driver: kapex``), ``sila/`` (the simulator served as a SiLA 2
server, and ``transport: sila`` to reach it), ``dataset/`` (episodes as LeRobot datasets), and
``sim_kapex`` (the minimal twin that the scheduling benchmark still uses).
"""
