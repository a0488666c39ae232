"""The ``warden`` command line."""
