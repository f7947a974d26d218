"""The ``attestia`` command: a thin layer over the library."""

import time

STARTED = time.monotonic()
"""When the running command started (``main`` resets it for each in-process call): a
command's ``--timeout`` counts from here, so it bounds the command's wall time."""
