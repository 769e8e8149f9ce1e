"""Reading text-like originals (plain text, CSV, JSON and JSON Lines, e-mail): what kind a file is, which encoding
its bytes are in, its rows, its JSON records, its message parts.

Both the bundle (api/bundle/records.py), which prints them, and the evidence preview (api/services/previews),
which shows them on screen, read originals through these modules, so a file reads the same in both: one rule
for each concern, and what each does with the result (pages and their limits, or a screenful) stays its own."""
