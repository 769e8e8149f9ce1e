"""Productions: documents stamped with production Bates numbers, load files, and the ZIP (build, loadfiles)."""
