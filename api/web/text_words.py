"""An item's text as the evidence page says it: how it was read, in words a paralegal understands, and Tesseract's
language codes as the languages' names. Nothing here decides anything: the text service does; this only names."""

from api.text.extract import SECTION_CHARS

# Tesseract's codes (its traineddata names) as English names; a code not here is shown as it is.
LANGUAGES = {
    "afr": "Afrikaans",
    "amh": "Amharic",
    "ara": "Arabic",
    "aze": "Azerbaijani",
    "bel": "Belarusian",
    "ben": "Bengali",
    "bul": "Bulgarian",
    "cat": "Catalan",
    "ces": "Czech",
    "chi_sim": "Chinese (simplified)",
    "chi_sim_vert": "Chinese (simplified, vertical)",
    "chi_tra": "Chinese (traditional)",
    "chi_tra_vert": "Chinese (traditional, vertical)",
    "dan": "Danish",
    "deu": "German",
    "ell": "Greek",
    "eng": "English",
    "est": "Estonian",
    "eus": "Basque",
    "fas": "Persian",
    "fil": "Filipino",
    "fin": "Finnish",
    "fra": "French",
    "gle": "Irish",
    "glg": "Galician",
    "guj": "Gujarati",
    "heb": "Hebrew",
    "hin": "Hindi",
    "hrv": "Croatian",
    "hun": "Hungarian",
    "hye": "Armenian",
    "ind": "Indonesian",
    "isl": "Icelandic",
    "ita": "Italian",
    "jpn": "Japanese",
    "jpn_vert": "Japanese (vertical)",
    "kan": "Kannada",
    "kat": "Georgian",
    "kaz": "Kazakh",
    "khm": "Khmer",
    "kor": "Korean",
    "kor_vert": "Korean (vertical)",
    "lao": "Lao",
    "lav": "Latvian",
    "lit": "Lithuanian",
    "mal": "Malayalam",
    "mar": "Marathi",
    "mkd": "Macedonian",
    "msa": "Malay",
    "mya": "Burmese",
    "nep": "Nepali",
    "nld": "Dutch",
    "nor": "Norwegian",
    "pan": "Punjabi",
    "pol": "Polish",
    "por": "Portuguese",
    "ron": "Romanian",
    "rus": "Russian",
    "sin": "Sinhala",
    "slk": "Slovak",
    "slv": "Slovenian",
    "spa": "Spanish",
    "sqi": "Albanian",
    "srp": "Serbian",
    "swa": "Swahili",
    "swe": "Swedish",
    "tam": "Tamil",
    "tel": "Telugu",
    "tgl": "Tagalog",
    "tha": "Thai",
    "tur": "Turkish",
    "uig": "Uyghur",
    "ukr": "Ukrainian",
    "urd": "Urdu",
    "uzb": "Uzbek",
    "vie": "Vietnamese",
    "yid": "Yiddish",
}
UNITS = {"decoded": ("section", "sections"), "other": ("page", "pages")}
SOURCES = {"embedded": "the PDF's own text", "ocr": "read by OCR", "decoded": "the file's own text"}


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def languages(language: str | None) -> str:
    """ "eng+chi_sim" -> "English and Chinese (simplified)"."""
    names = [language_name(code) for code in (language or "").split("+") if code]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def duration(seconds: float | None) -> str:
    seconds = seconds or 0.0
    if seconds < 60:
        return f"{max(seconds, 0.1):.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def unit(engine: str | None) -> tuple[str, str]:
    """What one "page" of the item is: a decoded file's text is cut into sections that stand for pages."""
    return UNITS["decoded"] if engine == "decoded" else UNITS["other"]


def how_read(fields: dict) -> str:
    """The item's reading in one sentence: "Read by OCR (tesseract 5.3.0, English), 3 pages, 4.2 s"."""
    status = fields.get("text_status")
    reason = fields.get("text_error") or "no reason was recorded"
    if status is None:
        return "Not read yet: this item was stored before casebinder read the text of evidence"
    if status == "pending":
        return "Waiting to be read"
    if status == "running":
        return "Being read now"
    if status == "skipped":
        return f"Skipped: {reason}"
    if status == "failed":
        return f"Failed: {reason}"
    engine = fields.get("text_engine") or ""
    pages = fields.get("text_pages") or 0
    ocr_pages = fields.get("ocr_pages") or 0
    ocr = engine.rpartition(" + ")[2]  # "pdfium + tesseract 5.3.0": the OCR engine that read some pages
    language, seconds = languages(fields.get("text_language")), duration(fields.get("ocr_seconds"))
    if engine == "decoded" and pages > 1:
        return f"Read from the file's own text, {count(pages, *unit(engine))} of about {SECTION_CHARS:,} characters"
    if engine == "decoded":
        return "Read from the file's own text"
    if engine.startswith("pdfium") and ocr_pages:
        return (
            f"Read from the PDF's own text, {count(pages, 'page', 'pages')}, and by OCR ({ocr}, {language}) for "
            f"{ocr_pages:,} of them, {seconds}"
        )
    if engine.startswith("pdfium"):
        return f"Read from the PDF's own text, {count(pages, 'page', 'pages')}"
    if engine.startswith("tesseract"):
        return f"Read by OCR ({engine}, {language}), {count(pages, 'page', 'pages')}, {seconds}"
    return f"Read ({engine or 'engine not recorded'}), {count(pages, 'page', 'pages')}"


def left_out(fields: dict) -> str | None:
    """What a finished reading left out, when it did (a page limit reached, a page that would not draw)."""
    if fields.get("text_status") == "done" and fields.get("text_error"):
        return f"Something was left out: {fields['text_error']}"
    return None
