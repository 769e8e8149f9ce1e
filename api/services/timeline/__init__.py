"""The chronology of a case: its events, how they are read, filtered, cited, imported and exported."""
