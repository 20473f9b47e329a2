"""``python -m cfl`` runs the command line, like the ``cfl`` script."""

from cfl.cli import main

main()
