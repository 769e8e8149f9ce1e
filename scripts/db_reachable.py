"""Exit 0 when the database URL given as the only argument accepts a connection."""

import sys

from sqlalchemy import create_engine, text

try:
    engine = create_engine(sys.argv[1], connect_args={"connect_timeout": 3})
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
    print(f"not reachable: {exc.__class__.__name__}", file=sys.stderr)
    sys.exit(1)
