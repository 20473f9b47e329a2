"""The KAPEX robot on SiLA 2: the simulator served as a SiLA 2 server, and ``transport: sila``.

* :mod:`.features` declares the robot as SiLA 2 features (``com.kapex/robot/RobotGoals/v1`` ...),
  with the FDL writer of :mod:`cfl.wire.fdl`; :mod:`.codec` puts messages and refusals on
  the wire and takes them off.
* :mod:`.host` runs a :class:`~robots.sim.kinematic.KinematicSim`'s calls on its device loop,
  converts times to real seconds and logs each goal's events; :mod:`.servicers` maps each SiLA 2
  call to it; :mod:`.server` is the :class:`~.server.RobotServer` and the hook ``cfl sim serve``
  uses to serve a ``driver: kapex`` device.
* :mod:`.transport` is :class:`~.transport.SilaTransport`, the client side: the
  :class:`~robots.kapex.transport.KapexTransport` a lab file names as ``transport: sila``.
"""
