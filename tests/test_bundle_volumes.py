"""Volumes: no volume ends on a slip sheet whose exhibit is in the next one, a page larger than the volume limit is
reported in words (before building when it can be known, else as the build's failure), and a long Bates prefix
never prints over the page counter. Real uploads and builds; the PDFs read back with pdftotext and pikepdf."""

import io
import random
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from api.bundle.plan import GENERATED_PAGE_BYTES, PageRef, split_volumes
from tests.helpers import build, download, extract, wait_done

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _noise(size: tuple[int, int], fmt: str, seed: str) -> bytes:
    """An image that does not compress: its file (and the page that shows it) is about 3 bytes a pixel."""
    rng = random.Random(seed)
    im = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _small(seed: str) -> bytes:
    return _noise((40, 60), "PNG", seed)


def _volume_of(bundle: dict, page: int) -> int:
    """The volume holding a page of the bundle (1-based, counted through every volume)."""
    end = 0
    for volume in bundle["volumes"]:
        end += volume["page_count"]
        if page <= end:
            return volume["number"]
    raise AssertionError(page)


def _bbox_words(data: bytes, tmp_path: Path) -> list[list[tuple[str, float, float, float, float]]]:
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    html = subprocess.run(["pdftotext", "-bbox", path, "-"], check=True, capture_output=True, text=True).stdout
    return [
        [
            (word, float(x0), float(y0), float(x1), float(y1))
            for x0, y0, x1, y1, word in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page
            )
        ]
        for page in html.split("<page ")[1:]
    ]


def test_packing_keeps_a_slip_sheet_with_its_first_page_and_the_slices_of_an_image_together():
    big = 400_000
    slip = PageRef("draw", 0, 1)
    first = PageRef("conv", 0, 1, first_content=True, est_bytes=big)
    rest = [PageRef("conv", i, 1, est_bytes=big) for i in range(1, 3)]
    sliced = [PageRef("conv", i, 2, first_content=i == 0, est_bytes=big // 3, part=i + 1, parts=3) for i in range(3)]
    tail = [PageRef("ex", 0, 3, first_content=True)]
    volumes = split_volumes([[slip, first, *rest], [PageRef("draw", 1, 2), *sliced], tail], 500_000)
    pages = [[ref for part in volume for ref in part.pages] for volume in volumes]
    assert pages[0] == [slip, first]  # the slip sheet never ends a volume on its own
    assert all(volume[-1].source != "draw" for volume in pages)
    holding = [n for n, volume in enumerate(pages) for ref in volume if ref in sliced]
    assert len(set(holding)) == 1  # the three slices of one image share a volume
    assert sum(len(volume) for volume in pages) == 4 + 4 + 1
    assert GENERATED_PAGE_BYTES < big


def test_no_volume_ends_on_a_slip_sheet_whose_exhibit_is_in_the_next(alice, tmp_path):
    case = alice.make_case(bates_prefix="SLIP")
    # A picture whose page alone nearly fills a volume of 0.6 MB: its slip sheet used to close the volume before.
    uploads = [("a.png", _small("a")), ("big.png", _noise((250, 580), "PNG", "big")), ("c.png", _small("c"))]
    for name, content in uploads:
        alice.upload(case["id"], content, filename=name, kind="listing_snapshot", title=name)
    bundle = build(alice, case["id"], max_volume_mb=0.6, certificate=False)
    assert len(bundle["volumes"]) >= 2
    for placed in bundle["exhibits"]:
        assert placed["first_content_page"] > placed["start_page"]  # it has a slip sheet
        assert _volume_of(bundle, placed["start_page"]) == _volume_of(bundle, placed["first_content_page"])
    for volume in bundle["volumes"]:
        assert volume["size_bytes"] <= 600_000
        last = _bbox_words(download(alice, bundle, volume["number"]), tmp_path)[-1]
        assert "SHA-256" not in " ".join(word for word, *_ in last)  # a slip sheet's facts never end a volume
    assert bundle["validation"]["ok"]


def test_an_image_larger_than_the_volume_limit_is_refused_before_building(alice):
    case = alice.make_case()
    photo = _noise((1000, 1000), "JPEG", "photo")
    assert len(photo) > 1_000_000
    alice.upload(case["id"], _small("x"), filename="small.png", kind="listing_snapshot", title="Small")
    item = alice.upload(case["id"], photo, filename="photo.jpg", kind="listing_snapshot", title="Photo").json()
    label = item["exhibit"]["label"]
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"max_volume_mb": 1})
    assert r.status_code == 422, r.text
    message = r.text
    assert f"exhibit {label}" in message and "max_volume_mb" in message and "JPEG" in message
    assert alice.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"] == []
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"max_volume_mb": 2})  # a limit it fits
    assert r.status_code == 202, r.text
    assert wait_done(alice, r.json()["id"])["status"] == "done"


def test_a_page_larger_than_the_volume_limit_fails_the_build_with_a_reason(alice):
    case = alice.make_case(bates_prefix="HUGE")
    alice.upload(case["id"], _small("y"), filename="small.png", kind="listing_snapshot", title="Small")
    # A PNG: how big its page is shows only once it is converted.
    item = alice.upload(
        case["id"], _noise((640, 640), "PNG", "png"), filename="scan.png", kind="listing_snapshot", title="Scan"
    ).json()
    label = item["exhibit"]["label"]
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"max_volume_mb": 1})
    assert r.status_code == 202, r.text
    bundle = wait_done(alice, r.json()["id"])
    assert bundle["status"] == "failed" and bundle["volumes"] == [] and bundle["sha256"] is None
    error = bundle["error"]
    assert f"exhibit {label}" in error and "max_volume_mb" in error and "HUGE0000" in error, error
    assert "more than the limit on its own" in error
    for internal in ("Error", "Exception", "Traceback", "/", "BundleError"):
        assert internal not in error, error
    assert alice.get(f"/api/v1/bundles/{bundle['id']}/pdf").status_code in (404, 409)


def test_a_long_bates_prefix_never_prints_over_the_page_counter(alice, tmp_path):
    for prefix, digits in (("PLAINTIFF-ACME-AUDIO-LLC-TRIAL", 6), ("W" * 29 + "_", 12)):
        case = alice.make_case()
        alice.upload(case["id"], _small("p"), filename="p.png", kind="listing_snapshot", title="Picture")
        alice.upload(case["id"], b"Date,Amount\n2021-01-01,20.00\n", filename="r.csv", title="Refunds")
        bundle = build(alice, case["id"], bates_prefix=prefix, bates_digits=digits, legend="CONFIDENTIAL")
        total = bundle["page_count"]
        data = download(alice, bundle)
        for number, words in enumerate(_bbox_words(data, tmp_path), 1):
            band = [w for w in words if w[2] > 792 - 66]  # the stamp band
            bates = f"{prefix}{number:0{digits}d}"
            assert any(w[0] == bates for w in band), (number, band)  # read back whole
            [(_, x0, y0, x1, y1)] = [w for w in band if w[0] == bates]
            assert y1 - y0 >= 6 * 0.9  # never below 6 pt
            for i, a in enumerate(band):  # no two stamps print over each other
                for b in band[i + 1 :]:
                    apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
                    assert apart, (number, a, b)
            assert f"Page {number} of {total}" in " ".join(w[0] for w in band)
        with pikepdf.open(io.BytesIO(data)) as pdf:
            assert pdf.pages[0].label == f"{prefix}{1:0{digits}d}"


def _uneven_pdf(pages: int, heavy: int, seed: str) -> bytes:
    """A PDF whose first `heavy` pages each hold a 300 KB picture that does not compress, the rest a line of text."""
    rng = random.Random(seed)
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    for n in range(pages):
        page = pdf.add_blank_page(page_size=(612, 792))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        content = b"BT /F1 12 Tf 72 700 Td (Chat page %d) Tj ET" % (n + 1)
        if n < heavy:
            image = pikepdf.Stream(pdf, rng.randbytes(400 * 250 * 3))
            image.Type, image.Subtype, image.Width, image.Height = pikepdf.Name.XObject, pikepdf.Name.Image, 400, 250
            image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
            page.obj.Resources.XObject = pikepdf.Dictionary(Im=image)
            content += b" q 480 0 0 300 66 300 cm /Im Do Q"
        page.obj.Contents = pdf.make_stream(content)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def test_volumes_packed_on_even_estimates_are_measured_and_packed_again_under_the_limit(alice):
    # Ten pages, two of them heavy: shared out evenly, the estimates put both heavy pages in one volume, over 0.6 MB.
    case = alice.make_case(bates_prefix="PACK")
    alice.upload(case["id"], _uneven_pdf(10, 2, "pack"), filename="chat.pdf", kind="chat_log", title="Chat")
    bundle = build(alice, case["id"], max_volume_mb=0.6)
    assert bundle["validation"]["ok"] and len(bundle["volumes"]) >= 2
    assert all(volume["size_bytes"] <= 600_000 for volume in bundle["volumes"])
    texts = " ".join(" ".join(extract(download(alice, bundle, v["number"]))) for v in bundle["volumes"])
    assert sorted(int(n) for n in re.findall(r"Chat page (\d+)", texts)) == list(range(1, 11))  # each page once
