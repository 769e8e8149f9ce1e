"""casebinder: a self-hosted evidence locker for fake-review litigation."""
