"""Reading the words of an original: Tesseract for pictures (ocr.py), and what each kind of file holds (extract.py).
Nothing here knows the database: extract.py runs in a child process of the text runner (api/services/text.py)."""
