"""Shared by the redaction tests: files with planted secrets in each form a case holds, and the ways a redacted copy
is read back to prove none survives (pdftotext, OCR of every page, the raw bytes of the file and of every stream in
it uncompressed)."""

import io
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import img2pdf
import pikepdf
import pytesseract
from PIL import Image, ImageDraw, ImageFont
from weasyprint import HTML

FONT = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"
SSN = "536-22-8714"
CARD = "4556 7375 8689 9855"
EMAIL = "jane.roe@reviewfarm.example"
TERM = "BLUEFINCH"
# What must never be found again: the SSN and the card without their last four digits (which may stay), whole
# e-mail address, the term. As digits too, and in any case.
GONE = ("536-22", "53622", "4556 7375 8689", "455673758689", "jane.roe", "reviewfarm", "bluefinch")
LINES = [
    f"Reviewer Jane Roe, SSN {SSN}",
    f"Refund card {CARD} paid",
    f"Contact {EMAIL}",
    f"Project {TERM} five stars",
]


def picture(lines: list[str] = LINES) -> bytes:
    """A screenshot-like PNG with the lines in a plain, large face: what OCR reads back reliably."""
    font = ImageFont.truetype(FONT, 46)
    im = Image.new("RGB", (1800, 110 + 90 * len(lines)), "white")
    draw = ImageDraw.Draw(im)
    for n, line in enumerate(lines):
        draw.text((60, 60 + 90 * n), line, fill="black", font=font)
    out = io.BytesIO()
    im.save(out, "PNG", dpi=(300, 300))
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A PDF of one page that is only a picture (a scan): no text of its own."""
    return img2pdf.convert(picture(), layout_fun=img2pdf.get_fixed_dpi_layout_fun((200, 200)))


def text_pdf(page_two: str = "Page two: nothing") -> bytes:
    """A two-page PDF with text of its own: the secrets on page 1; the document's metadata and a note on page 2
    hold them too, which a redacted copy must not carry."""
    html = "".join(f"<p>{line}</p>" for line in LINES) + f"<p style='page-break-before: always'>{page_two}</p>"
    data = HTML(string=f"<html><body style='font-family: Noto Sans; font-size: 14pt'>{html}</body></html>").write_pdf()
    pdf = pikepdf.open(io.BytesIO(data))
    pdf.docinfo["/Title"] = f"Statement of {EMAIL}"
    pdf.docinfo["/Subject"] = f"SSN {SSN}"
    note = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[50, 50, 70, 70],
        Contents=pikepdf.String(f"Card {CARD} of {TERM}"),
    )  # fmt: skip
    pdf.pages[1].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(note)]))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def csv_file() -> bytes:
    rows = [
        "order_id,buyer,email,ssn,card,note",
        f"A-1001,Jane Roe,{EMAIL},{SSN},{CARD},{TERM} refund",
        "A-1002,Li Wei 李伟,li.wei@example.org,,,five stars",
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


def email_file() -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Jane Roe <{EMAIL}>"
    msg["To"] = "seller@shop.example"
    msg["Subject"] = "Refund for my review"
    msg["Date"] = "Tue, 02 Mar 2021 10:00:00 +0000"
    msg.set_content(f"Hi, my SSN is {SSN} and the card {CARD}. About {TERM}: 5 stars posted.\n")
    return bytes(msg)


def accept_suggestions(actor, item: dict, rules: set[str] | None = None) -> list[dict]:
    """Suggest redactions over the item and accept them (those of `rules` only, when given)."""
    r = actor.post(f"/api/v1/evidence/{item['id']}/redactions/suggest")
    assert r.status_code == 200, r.text
    items = [s for s in r.json()["items"] if rules is None or s["rule"] in rules]
    for s in items:
        r = actor.request("PATCH", f"/api/v1/evidence/{item['id']}/redactions/{s['id']}", json={"status": "accepted"})
        assert r.status_code == 200, r.text
    return items


def apply_redactions(actor, item: dict) -> dict:
    r = actor.post(f"/api/v1/evidence/{item['id']}/redactions/apply")
    assert r.status_code == 202, r.text
    return wait_set(actor, r.json()["id"])


def wait_ended(actor, path: str, *, limit: float = 600) -> dict:
    """A background job's resource once it has ended (done or failed). The limit only keeps a broken runner from
    hanging the suite: it is not a measure of speed."""
    deadline = time.monotonic() + limit
    while True:
        body = actor.get(path).json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"{path} still {body['status']} after {limit} s"
        time.sleep(0.3)


def wait_set(actor, set_id: str) -> dict:
    return wait_ended(actor, f"/api/v1/redaction-sets/{set_id}")


def _ocr(png: Path) -> str:
    return pytesseract.image_to_string(Image.open(png), lang="eng")


def pdf_text(data: bytes) -> str:
    """A PDF's text as pdftotext reads it (no OCR: for what only the text layer has to show)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "copy.pdf").write_bytes(data)
        return _pdftotext(Path(tmp) / "copy.pdf")


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout


def read_back(data: bytes, media_type: str) -> dict[str, str]:
    """Every way the copy can be read: its text (pdftotext), OCR of every page, its raw bytes and (for a PDF) every
    stream uncompressed and every string in it."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if media_type == "application/pdf":
            (folder / "copy.pdf").write_bytes(data)
            out["pdftotext"] = _pdftotext(folder / "copy.pdf")
            subprocess.run(["pdftoppm", "-r", "200", "-png", str(folder / "copy.pdf"), str(folder / "p")], check=True)
            out["ocr"] = "\n".join(_ocr(p) for p in sorted(folder.glob("p*.png")))
            with pikepdf.open(io.BytesIO(data)) as pdf:
                streams, strings = [], []
                for obj in pdf.objects:
                    if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") != pikepdf.Name.Image:
                        try:
                            streams.append(obj.read_bytes())
                        except pikepdf.PdfError:
                            streams.append(obj.read_raw_bytes())
                    strings.append(str(obj.unparse(resolved=True)) if not isinstance(obj, pikepdf.Stream) else "")
                out["streams"] = "\n".join(
                    s.decode("utf-8", "ignore") + s.decode("utf-16-be", "ignore") + s.decode("latin-1") for s in streams
                )
                out["objects"] = "\n".join(strings) + "\n".join(_strings(pdf))
                out["docinfo"] = repr(dict(pdf.docinfo)) if pdf.trailer.get("/Info") is not None else ""
        else:
            (folder / "copy.png").write_bytes(data)
            im = Image.open(folder / "copy.png")
            out["ocr"] = _ocr(folder / "copy.png")
            out["metadata"] = repr(im.info) + repr(dict(im.getexif()))
        out["raw"] = data.decode("latin-1") + data.decode("utf-16-be", "ignore")
    return out


def _strings(pdf: pikepdf.Pdf) -> list[str]:
    found = []
    for obj in pdf.objects:
        target = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
        stack = [target]
        while stack:
            o = stack.pop()
            if isinstance(o, pikepdf.String):
                found.append(str(o))
            elif isinstance(o, pikepdf.Dictionary):
                stack.extend(v for v in o.values() if isinstance(v, pikepdf.Object) and not v.is_indirect)
            elif isinstance(o, pikepdf.Array):
                stack.extend(v for v in o if isinstance(v, pikepdf.Object) and not v.is_indirect)
    return found


def survivors(read: dict[str, str]) -> list[tuple[str, str]]:
    """(how it was read, what was found) for every planted secret still readable."""
    out = []
    for how, text in read.items():
        squeezed = " ".join(text.split()).casefold()
        digits = "".join(c for c in text if c.isdigit())
        for gone in GONE:
            wanted = gone.casefold()
            if wanted in squeezed or (wanted.isdigit() and wanted in digits and len(wanted) >= 9):
                out.append((how, gone))
    return out
