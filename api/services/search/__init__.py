"""Full-text search across cases: what each item and event is indexed as (documents.py), how each database stores
and matches the tokens (engine.py), keeping the index in step with the data (index.py), and a search (find.py).
Tokenising, the query syntax and snippets need no database: api/search/."""
