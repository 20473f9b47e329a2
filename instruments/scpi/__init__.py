"""SCPI instruments over PyVISA, configured in the lab file (``driver: scpi``).

:mod:`~instruments.scpi.driver` is the driver and its documentation; :mod:`~.options` the lab-file
options; :mod:`~.session` the one place PyVISA is called and its errors translated;
:mod:`~.replies` the parsing of SCPI replies.
"""
