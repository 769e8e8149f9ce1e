"""Bundles from hostile and unusual originals: active PDFs, encrypted or broken files, image formats, volumes."""

import io
import threading
import zipfile

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image

from api.bundle.converter import Converter, Job
from api.bundle.validate import FORBIDDEN_KEYS
from api.templating import refuse_all_fetcher
from tests.helpers import build, download, extract

pytestmark = pytest.mark.slow


def _active_pdf() -> bytes:
    """Two pages: JavaScript, launch and URI actions, an embedded file, a form field, and one internal link.
    The second page is legal-sized and rotated, so it is displayed landscape."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for text, size in ((b"First page of the seller chat", (612, 792)), (b"Second page, rotated", (612, 1008))):
        page = pdf.add_blank_page(page_size=size)
        page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(b"BT /F1 24 Tf 72 700 Td (" + text + b") Tj ET")
    pdf.pages[1].obj.Rotate = 90
    first, second = pdf.pages[0], pdf.pages[1]
    js = Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert('pwned')"))
    pdf.Root.OpenAction = pdf.make_indirect(js)
    first.obj.AA = Dictionary(O=js)
    embedded = pdf.make_stream(b"secret payload")
    embedded.Type = Name.EmbeddedFile
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([pikepdf.String("x"), pdf.make_indirect(js)])),
        EmbeddedFiles=Dictionary(
            Names=Array(
                [
                    pikepdf.String("payload.exe"),
                    Dictionary(Type=Name.Filespec, F=pikepdf.String("payload.exe"), EF=Dictionary(F=embedded)),
                ]
            )
        ),
    )
    annots = [
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[72, 600, 300, 630],
            A=Dictionary(S=Name.URI, URI=pikepdf.String("http://169.254.169.254/latest/meta-data")),
        ),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[72, 500, 300, 530],
            A=Dictionary(S=Name.Launch, F=pikepdf.String("calc.exe")),
        ),
        Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[72, 400, 300, 430], Dest=Array([second.obj, Name.Fit])),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.FileAttachment,
            Rect=[72, 300, 100, 330],
            FS=Dictionary(Type=Name.Filespec, F=pikepdf.String("a.exe"), EF=Dictionary(F=embedded)),
        ),
    ]
    first.obj.Annots = pdf.make_indirect(Array([pdf.make_indirect(a) for a in annots]))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def test_nothing_active_survives_and_internal_links_are_kept(alice):
    case = alice.make_case(bates_prefix="FTC")
    item = alice.upload(case["id"], _active_pdf(), filename="chat.pdf", kind="chat_log", title="Chat export").json()
    assert item["media_type"] == "application/pdf" and item["page_count"] == 2
    bundle = build(alice, case["id"])
    data = download(alice, bundle)
    assert bundle["validation"]["ok"] is True and bundle["validation"]["forbidden_objects"] == []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert not (set(obj.keys()) & FORBIDDEN_KEYS), obj.keys()
        assert "/AcroForm" not in pdf.Root and "/Names" not in pdf.Root and "/OpenAction" not in pdf.Root
        placed = bundle["exhibits"][0]
        first = pdf.pages[placed["first_content_page"] - 1]
        second = pdf.pages[placed["first_content_page"]]
        links = [a for a in first.obj.get("/Annots", []) if a.Subtype == Name.Link]
        assert len(links) == 1 and links[0].Dest[0].objgen == second.obj.objgen  # the internal link, re-pointed
        assert [float(v) for v in first.mediabox] == [0, 0, 612, 792]
        assert [float(v) for v in second.mediabox] == [0, 0, 792, 612]  # rotated legal page: landscape letter
    texts = extract(data)
    assert "First page of the seller chat" in texts[placed["first_content_page"] - 1]
    assert "Second page, rotated" in texts[placed["first_content_page"]]


def test_encrypted_broken_bomb_and_native_files_become_placeholder_pages(alice):
    case = alice.make_case(bates_prefix="PX")
    secret = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(secret, encryption=pikepdf.Encryption(user="hunter2", owner="owner-pw"))
    bomb = io.BytesIO()
    Image.new("L", (1, 1)).save(bomb, "PNG")
    raw = bytearray(bomb.getvalue())
    from tests.helpers import png_claiming

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("chat/messages.txt", "export")
    uploads = [
        ("locked.pdf", secret.getvalue(), "encrypted"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage trailer", "damaged"),
        ("bomb.png", png_claiming(20_000, 10_000), "not decoded"),
        ("export.zip", archive.getvalue(), "native format"),
    ]
    for name, content, _ in uploads:
        assert alice.upload(case["id"], content, filename=name, title=name).status_code == 201
    assert raw  # the tiny PNG above only checks Pillow writes; the bomb is a forged header
    bundle = build(alice, case["id"])
    assert bundle["status"] == "done"
    texts = extract(download(alice, bundle))
    for placed, (name, _, reason) in zip(bundle["exhibits"], uploads, strict=True):
        pages = " ".join(texts[placed["start_page"] - 1 : placed["start_page"] - 1 + placed["page_count"]])
        pages = " ".join(pages.split())  # the reason's words, however its lines wrap
        assert name in pages and reason in pages, (name, pages[:500])
        assert placed["rendering"] == "placeholder" and reason in placed["rendering_reason"]


def test_user_text_is_printed_literally_and_nothing_is_fetched(alice):
    case = alice.make_case(title="Acme v. <script>alert(1)</script>", court="{{ config }}")
    hostile = '<img src="file:///etc/passwd"> {{ 7*7 }} <a href="http://169.254.169.254/">x</a>'
    csv = f'Date,Note\n2021-01-01,"{hostile}"\n'.encode()
    alice.upload(case["id"], csv, filename="export.csv", kind="refund_record", title=hostile)
    bundle = build(alice, case["id"], title="{% for x in range(3) %}loop{% endfor %}")
    text = "\n".join(extract(download(alice, bundle)))
    assert "<script>alert(1)</script>" in text and "{{ config }}" in text
    assert "{% for x in range(3) %}loop{% endfor %}" in text
    assert '<img src="file:///etc/passwd">' in text and "{{ 7*7 }}" in text and "root:x:0" not in text
    for url in ("file:///etc/passwd", "http://169.254.169.254/", "https://example.com/a.css", "data:text/css,x"):
        try:
            refuse_all_fetcher().fetch(url)
            raise AssertionError(f"fetched {url}")
        except ValueError as refused:
            assert "not loaded" in str(refused)


def test_image_formats_each_make_one_page(alice):
    case = alice.make_case()
    formats = []
    for fmt, mode, name in (
        ("JPEG", "CMYK", "cmyk.jpg"),
        ("GIF", "P", "a.gif"),
        ("WEBP", "RGB", "a.webp"),
        ("TIFF", "RGB", "a.tiff"),
        ("PNG", "RGBA", "alpha.png"),
    ):
        buf = io.BytesIO()
        Image.new(mode, (600, 400), 120 if mode in ("P", "L") else (10, 120, 200, 40)[: len(mode)]).save(buf, fmt)
        r = alice.upload(case["id"], buf.getvalue(), filename=name, kind="listing_snapshot", title=name)
        assert r.status_code == 201 and r.json()["media_type"].startswith("image/"), r.text
        formats.append(name)
    bundle = build(alice, case["id"], slip_sheets=False, cover=False, index=False, certificate=False)
    assert bundle["page_count"] == len(formats)
    assert len(bundle["validation"]["pages_without_text"]) == len(formats)
    with pikepdf.open(io.BytesIO(download(alice, bundle))) as pdf:
        for page in pdf.pages:
            assert list(page.get_images()), "each page shows its image (inside the placed form)"


def test_volumes_split_at_exhibit_boundaries_with_continuous_bates(alice, corpus):
    case = alice.make_case(bates_prefix="VOL")
    inserts = [f for f in corpus if f.kind == "product_insert_card"][:2]
    reviews = [f for f in corpus if f.kind == "review_screenshot"][:2]
    for f in inserts + reviews:
        alice.upload(case["id"], f.path.read_bytes(), filename=f.path.name, kind=f.kind, title=f.title)
    limit_mb = 0.5
    bundle = build(alice, case["id"], max_volume_mb=limit_mb, title="Exhibits (Trial) v.2")
    volumes = bundle["volumes"]
    assert len(volumes) >= 2
    assert alice.get(f"/api/v1/bundles/{bundle['id']}/pdf").status_code == 409
    expected = 1
    for volume in volumes:
        name = volume["filename"]
        assert name.isascii() and len(name) <= 50 and name.count(".") == 1 and "(" not in name and ")" not in name
        assert volume["size_bytes"] <= limit_mb * 1_000_000
        data = download(alice, bundle, volume["number"])
        texts = extract(data)
        assert len(texts) == volume["page_count"]
        assert "Index of Exhibits" in "".join(texts[:3])
        for offset, text in enumerate(texts):  # Bates numbers continue across volumes
            assert f"VOL{expected + offset:06d}" in text
        assert volume["bates_first"] == f"VOL{expected:06d}"
        expected += len(texts)
    assert bundle["bates_last"] == f"VOL{expected - 1:06d}"
    assert alice.get(f"/api/v1/bundles/{bundle['id']}/volumes/99/pdf").status_code == 404


def test_converter_gives_up_after_its_time_limit(tmp_path):
    # A picture that takes about half a second to convert, against a limit of none: the outcome does not hang on
    # how busy the machine is (a small PDF under a millisecond's limit sometimes finished first).
    slow = tmp_path / "slow.png"
    Image.new("RGBA", (4000, 4000), (200, 30, 30, 128)).save(slow)
    converter = Converter(timeout=0, max_pixels=10**8)
    try:
        result = converter.run(slow, "image/png", tmp_path / "out.pdf")
    finally:
        converter.close()
    assert result.path is None and "longer than" in result.placeholder


def test_one_child_converts_a_list_in_order_and_a_damaged_original_stops_only_itself(corpus, tmp_path):
    originals = [f for f in corpus if f.path.suffix in (".pdf", ".png", ".jpg")][:3]
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.7\nnot really a PDF\n")
    jobs = [
        Job(
            n, f.path, "application/pdf" if f.path.suffix == ".pdf" else f"image/{f.path.suffix[1:]}", tmp_path / f"{n}"
        )
        for n, f in enumerate(originals)
    ]
    jobs.insert(1, Job(99, damaged, "application/pdf", tmp_path / "99"))
    results = []
    converter = Converter(timeout=60, max_pixels=10**8)
    try:
        converter.run_all(jobs, lambda key, result: results.append((key, result)))
    finally:
        converter.close()
    assert [key for key, _ in results] == [0, 99, 1, 2]
    assert "damaged" in results[1][1].placeholder and results[1][1].path is None
    for _, result in (results[0], *results[2:]):
        assert result.placeholder is None and result.pages
        with pikepdf.open(result.path) as converted:
            assert len(converted.pages) == len(result.pages)
            assert converted.pages[0].mediabox[2] in (612, 792)  # letter, either way round
    assert converter._process is None  # the child is gone once the list is done


def test_an_original_past_the_limit_costs_only_itself_and_the_rest_go_on_in_a_new_child(tmp_path):
    # Transparent, so it is decoded, flattened and encoded again: a second or so, far past a limit of none.
    slow = tmp_path / "slow.png"
    Image.new("RGBA", (4000, 4000), (200, 30, 30, 128)).save(slow)
    jobs = [Job(n, slow, "image/png", tmp_path / f"{n}.pdf") for n in range(3)]
    results = []
    converter = Converter(timeout=0, max_pixels=10**8)
    converter.run_all(jobs, lambda key, result: results.append((key, result)))
    assert [key for key, _ in results] == [0, 1, 2]
    assert all("longer than" in result.placeholder for _, result in results)
    assert converter._process is None


def test_a_stopped_conversion_run_returns_at_once_and_leaves_no_child(corpus, tmp_path):
    pdf = next(f for f in corpus if f.path.suffix == ".pdf")
    stop = threading.Event()
    stop.set()
    results = []
    converter = Converter(timeout=60, max_pixels=10**8)
    converter.run_all([Job(0, pdf.path, "application/pdf", tmp_path / "0.pdf")], lambda *r: results.append(r), stop)
    assert results == [] and converter._process is None


def test_a_build_that_fails_is_marked_failed_with_a_reason_and_leaves_no_files(alice, blob_root):
    case = alice.make_case()
    item = alice.upload(case["id"], b"Date,Amount\n2021-01-01,20.00\n", filename="refunds.csv", title="Refunds").json()
    stored = blob_root / "sha256" / item["sha256"][:2] / item["sha256"][2:4] / item["sha256"]
    stored.unlink()  # the original vanished from disk: the build cannot read it
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={})
    from tests.helpers import wait_done

    bundle = wait_done(alice, r.json()["id"])
    # Said in words, naming the exhibit: no exception, no path on the server.
    assert bundle["status"] == "failed" and "is missing from the evidence store" in bundle["error"]
    assert f"Exhibit {item['exhibit']['label']} (refunds.csv, SHA-256 {item['sha256']})" in bundle["error"]
    assert str(blob_root) not in bundle["error"] and "Error" not in bundle["error"]
    assert bundle["sha256"] is None and bundle["volumes"] == []
    assert alice.get(f"/api/v1/bundles/{bundle['id']}/pdf").status_code == 409
    assert not [p for p in (blob_root / "tmp").iterdir() if p.name.startswith("bundle-")]
