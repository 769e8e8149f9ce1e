"""The bundle engine: turns a case's exhibits into a court-ready, Bates-stamped PDF.

Generated pages (cover, index, slip sheets, record renderings, placeholders, certificate) come from
one WeasyPrint render per kind; originals are converted in a separate process with a time limit and
placed with pikepdf, never re-rendered; stamps are drawn in a bottom band with one embedded font.
"""
