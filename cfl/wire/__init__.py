"""Wire plumbing shared by every family of drivers (instruments, robots), free of any driver.

``fdl`` writes SiLA 2 Feature Definition Language (plain XML, no ``sila2`` import), ``loop`` runs
a lab's device coroutines on a background event loop for servers whose calls arrive on other
threads, ``address`` parses ``host:port`` and holds the one lock SiLA 2 clients are built under.
They live in the core so that ``instruments`` and ``robots``, which may import only ``cfl``,
share one copy of them.
"""
