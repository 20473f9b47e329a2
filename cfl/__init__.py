"""CFL core: the closed feedback loop of hypotheses, designed experiments, devices and evidence.

Entry points for users are the ``cfl`` command (:mod:`cfl.cli`) and, for programs,
:func:`cfl.spec.load_spec`, :func:`cfl.runner.open_or_create` and :func:`cfl.runner.run_campaign`.
"""
