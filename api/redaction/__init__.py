"""Redaction: an item's pages with their characters' boxes (pages), what FRCP 5.2 and a protective order keep out
(detect), boxes burned into a copy (burn), and the copy read back before it is released (release)."""
