"""Domain logic. Services take a Session, flush, and never commit: the request commits once."""
