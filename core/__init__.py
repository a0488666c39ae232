"""Pure building blocks: settings, clock, errors, passwords, tokens, crypto, permissions.

Nothing in this package imports another Warden package or does I/O at import time.
"""
