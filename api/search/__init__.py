"""Full-text search, as far as it needs no database: the words of a text as both engines index them (terms.py), a
query as a person writes it (query.py) and the snippets shown with each hit (snippets.py). What is indexed, and how
each database stores and matches it, is api/services/search/."""
