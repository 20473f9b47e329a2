"""SiLA 2 on the wire: serve any CFL device as a SiLA 2 server, and drive any over SiLA 2.

* :mod:`.features` puts CFL's capability protocols on the wire as SiLA 2 features
  (``com.kapex/cfl/Measures/v1`` ...), written with :mod:`cfl.wire.fdl`; :mod:`.codec` converts
  values and errors both ways.
* :mod:`.server` hosts a built device (:class:`~.server.DeviceServer`), running its coroutines on
  a :class:`~cfl.wire.loop.DeviceLoop` through a :class:`~.runner.CommandRunner`;
  :mod:`.progress` says how far a command has got; :mod:`.cli` is ``cfl sim serve LAB``.
* :mod:`.client` is a generic asyncio :class:`~.client.SilaConnection` to any SiLA 2 server, and
  :mod:`.driver` the ``driver: sila`` device built on it.
"""
