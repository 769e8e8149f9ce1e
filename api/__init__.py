"""casebinder: a self-hosted evidence locker for fake-review litigation."""

__version__ = "0.1.0"
