"""The ``attestia`` command: a thin layer over the library."""
