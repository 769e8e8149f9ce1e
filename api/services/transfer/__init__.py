"""A case carried between instances: the export ZIP, and the checks and restore that bring it back in."""
