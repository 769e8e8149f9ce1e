"""What kind of original a file is, from its sniffed media type and, for text only, its name."""

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp", "image/x-ms-bmp"}
# The names JSON Lines goes by (libmagic says application/x-ndjson); the records are plain UTF-8 text.
JSON_LINES_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-lines",
}
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
TEXT_KINDS = ("csv", "json", "email", "text")


def classify(media_type: str, filename: str) -> str:
    """pdf, image, csv, json, email, text, or native (a file only its own program opens)."""
    name = filename.lower()
    if media_type == "application/pdf":
        return "pdf"
    if media_type in IMAGE_TYPES:
        return "image"
    # A whole JSON document or JSON Lines are both "json": the reader tells them apart by parsing. The name
    # decides only for text (a .jsonl sniffed as text/csv is still JSON Lines), never for binary content.
    if media_type in JSON_LINES_TYPES or (media_type.startswith("text/") and name.endswith(JSON_LINES_SUFFIXES)):
        return "json"
    if media_type == "text/csv" or (media_type.startswith("text/") and name.endswith(".csv")):
        return "csv"
    if media_type == "application/json" or (
        name.endswith((".json", *JSON_LINES_SUFFIXES)) and media_type.startswith(("text/", "application/json"))
    ):
        return "json"
    if media_type == "message/rfc822" or (media_type.startswith("text/") and name.endswith(".eml")):
        return "email"
    if media_type.startswith("text/"):
        return "text"
    return "native"
