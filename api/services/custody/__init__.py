"""Chain of custody: the report of one evidence item (report) and its PDF (pdf)."""
