"""The floor for a bundle build: the least work a bundle needs, with no database, no web layer, no checks.

One WeasyPrint render for the cover, index and slip sheets; img2pdf for images; pikepdf to merge and to
stamp a Bates number on every page (in a standard font, not embedded).
"""

import io
import time

import img2pdf
import pikepdf
from weasyprint import HTML

LETTER = (img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11))


def build(files, out_path) -> tuple[float, int]:
    """Build the floor bundle of the demo files; returns (seconds, pages)."""
    started = time.perf_counter()
    rows = "".join(
        f"<tr><td>Ex. {i}</td><td>{f.kind}</td><td>{f.occurred_at.date()}</td><td>{f.title[:16]}</td></tr>"
        for i, f in enumerate(files, 1)
    )
    slips = "".join(f"<section class=slip>EXHIBIT {i}</section>" for i in range(1, len(files) + 1))
    html = (
        "<style>@page{size:letter;margin:1in} body{font-family:DejaVu Sans}"
        " table{border-collapse:collapse;font-size:9pt} td{border:1px solid #999;padding:2px}"
        " .slip{page-break-before:always;text-align:center;padding-top:3in;font-size:40pt}</style>"
        f"<h1>Exhibit bundle</h1><table>{rows}</table>{slips}"
    )
    bundle = pikepdf.open(io.BytesIO(HTML(string=html).write_pdf()))
    layout = img2pdf.get_layout_fun(LETTER, fit=img2pdf.FitMode.into)
    for f in files:
        if f.path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            part = pikepdf.open(io.BytesIO(img2pdf.convert(str(f.path), layout_fun=layout)))
        else:
            part = pikepdf.open(f.path)
        bundle.pages.extend(part.pages)
    font = bundle.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    for n, page in enumerate(bundle.pages, 1):
        name = page.add_resource(font, pikepdf.Name.Font, prefix="Bates")
        x = float(page.mediabox[2]) - 110
        page.contents_add(bundle.make_stream(f"q BT {name} 9 Tf {x} 18 Td (ABC{n:06d}) Tj ET Q".encode()))
    bundle.save(out_path)
    return time.perf_counter() - started, len(bundle.pages)
