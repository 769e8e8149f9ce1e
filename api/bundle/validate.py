"""The bundle's validation report: what an e-filing system would check, checked before anyone files it."""

import pikepdf
from pikepdf import Name

from api.bundle.completeness import warnings
from api.bundle.spec import BuildResult, BuildSpec

FORBIDDEN_KEYS = {
    "/JavaScript",
    "/JS",
    "/OpenAction",
    "/AA",
    "/Launch",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/XFA",
    "/RichMedia",
    "/URI",
    "/SubmitForm",
    "/ImportData",
    "/GoToR",
    "/GoToE",
}
FORBIDDEN_SUBTYPES = {"/Screen", "/Movie", "/Sound", "/RichMedia", "/FileAttachment", "/3D", "/Widget"}


def scan(path) -> dict:
    """Forbidden objects, encryption and fonts without an embedded program, in one saved PDF."""
    forbidden, unembedded = set(), set()
    with pikepdf.open(path) as pdf:
        encrypted = pdf.is_encrypted
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Dictionary):
                continue
            for key in obj.keys():
                if key in FORBIDDEN_KEYS:
                    forbidden.add(key)
            subtype = obj.get("/Subtype")
            if obj.get("/Type") == Name.Annot and str(subtype) in FORBIDDEN_SUBTYPES:
                forbidden.add(f"annotation {subtype}")
            if obj.get("/Type") == Name.Font and subtype in (
                Name.TrueType,
                Name.Type1,
                Name.CIDFontType0,
                Name.CIDFontType2,
                Name.MMType1,
            ):
                descriptor = obj.get("/FontDescriptor")
                if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    unembedded.add(str(obj.get("/BaseFont", "unnamed")))
        outline_mode = pdf.Root.get("/PageMode") == Name.UseOutlines
    return {
        "forbidden": sorted(forbidden),
        "encrypted": encrypted,
        "fonts_not_embedded": sorted(unembedded),
        "opens_with_bookmarks": outline_mode,
    }


def validate(result: BuildResult, spec: BuildSpec, textless_bates: list[int], awaiting_bates: list[int]) -> dict:
    """What an e-filing system would refuse, and whether every exhibit is reproduced in full: `ok` is false when
    one is not (each is listed in `warnings`), unless the request allowed that (`allow_incomplete`). Of the pages
    without text, those whose exhibit's text is still being read get it by a rebuild once that is done."""
    volumes = []
    for volume in result.volumes:
        found = scan(volume.path)
        volumes.append(
            {
                "number": volume.number,
                "filename": volume.filename,
                "size_bytes": volume.size_bytes,
                "within_size_limit": spec.max_volume_bytes is None or volume.size_bytes <= spec.max_volume_bytes,
                **found,
            }
        )
    incomplete = warnings(spec)
    fileable = all(not v["forbidden"] and not v["encrypted"] and v["within_size_limit"] for v in volumes)
    return {
        "ok": fileable and (not incomplete or spec.allow_incomplete),
        "volumes": volumes,
        "forbidden_objects": sorted({f for v in volumes for f in v["forbidden"]}),
        "pages_without_text": [spec.bates(n) for n in textless_bates],
        "pages_awaiting_text": [spec.bates(n) for n in awaiting_bates],
        "warnings": incomplete,
        "incomplete_allowed": spec.allow_incomplete,
    }
