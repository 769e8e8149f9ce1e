"""Opening a PDF and drawing its pages, with PDFium (pypdfium2): the work of a render process, never of the server
itself (api/services/previews/renderers.py runs it in a child process under a time and a memory limit, so a
hostile PDF can cost that process its life, nothing more).

What the work finds is written to the file the server names: opening writes JSON ({"pages": n}, or {"refused":
"encrypted" | "damaged"}); drawing writes a PNG, and nothing when the page cannot be drawn.
"""

import json
import resource

# A page image is at most this many times as tall as it is wide: a page shaped like a ribbon is drawn narrower
# instead of as a bitmap of millions of pixels.
MAX_TALL = 4
MiB = 1024 * 1024


def prepare(memory_mib: int) -> None:
    """First thing in a render process: the libraries loaded, then a ceiling on its address space, so a PDF that
    asks for more memory fails to render instead of taking the machine's."""
    import pypdfium2  # noqa: F401
    from PIL import Image  # noqa: F401

    limit = memory_mib * MiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def work(task: str, source: str, out: str, page: int = 0, width: int = 0) -> None:
    """`task` "open": count the pages of `source` into `out`; "draw": page `page` (1 is the first) as a PNG
    `width` pixels wide."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if task == "open":
            refused = "encrypted" if exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD else "damaged"
            _write(out, json.dumps({"refused": refused}).encode())
        return
    try:
        if task == "open":
            _write(out, json.dumps({"pages": len(pdf)}).encode())
        elif task == "draw":
            _draw(pdf, page, width, out)
    finally:
        pdf.close()


def _draw(pdf, page: int, width: int, out: str) -> None:
    import io

    import pypdfium2 as pdfium

    try:
        pdf.init_forms()  # filled-in form fields are drawn as a reader sees them
    except pdfium.PdfiumError:
        pass
    try:
        sheet = pdf[page - 1]
        page_width, page_height = sheet.get_size()
        if page_width <= 0 or page_height <= 0:
            return
        scale = min(width / page_width, width * MAX_TALL / page_height)
        image = sheet.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
    except (pdfium.PdfiumError, ValueError, MemoryError):
        return
    buf = io.BytesIO()
    image.save(buf, "PNG")
    _write(out, buf.getvalue())


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
