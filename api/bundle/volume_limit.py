"""Keeping every volume under the size limit, or saying in words why it cannot be.

Volumes are packed on estimated page sizes (a converted original's size shared evenly among its pages). When a
written volume still comes out over the limit, its pages are measured in the saved file and the volumes packed
again on those sizes, with a little less room; when the volume over the limit holds a single run of pages that no
boundary may cut (see plan.groups), nothing can fix it but a larger limit, and the build fails naming the exhibit,
the page and its Bates number. A bundle is never done with a volume over its limit.
"""

import math

import pikepdf

from api.bundle.plan import PageRef, Part, groups
from api.bundle.spec import BuildResult, BuildSpec, BundleError, Volume

ATTEMPTS = 4  # packings tried before giving up
MARGIN = 0.95  # each packing again leaves this much less room than the last one overshot by


def refit(
    spec: BuildSpec, volumes: list[list[Part]], fronts: list[int], result: BuildResult, safety: float, attempt: int
) -> float | None:
    """None when every volume is within the limit; else the safety factor to pack the volumes again with, once the
    pages of the volumes over it carry their measured sizes. Raises BundleError when packing again cannot help.
    `fronts`: how many cover and index pages open each volume."""
    limit = spec.max_volume_bytes
    if not limit:
        return None
    over = [
        (written, parts, front)
        for written, parts, front in zip(result.volumes, volumes, fronts, strict=True)
        if written.size_bytes > limit
    ]
    if not over:
        return None
    for written, parts, _ in over:
        if sum(len(groups(part.pages)) for part in parts) <= 1 or attempt + 1 >= ATTEMPTS:
            raise BundleError(_too_large(spec, limit, result, written, attempt + 1 < ATTEMPTS))
    for written, parts, front in over:
        _measure(written, [ref for part in parts for ref in part.pages], front)
    return safety * limit / max(written.size_bytes for written, _, _ in over) * MARGIN


def _measure(volume: Volume, refs: list[PageRef], front: int) -> None:
    """Set each exhibit page's estimate to what it takes in the saved volume: its own objects, and those it shares
    with pages after it (the fonts of a document, the image of a split picture) counted on the first page using them."""
    seen: set = set()
    with pikepdf.open(volume.path) as pdf:
        sizes = [_reachable_bytes(page.obj, seen) for page in pdf.pages]
    for offset, ref in enumerate(refs):
        ref.est_bytes = sizes[front + offset]


def _too_large(spec: BuildSpec, limit: int, result: BuildResult, volume: Volume, lone: bool) -> str:
    """Why the volume cannot be made small enough, with its largest page named by exhibit, page and Bates number."""
    index, page_size = _largest_page(volume)
    number = volume.bates_first + index
    where = f"page {index + 1} of the volume (Bates {spec.bates(number)})"
    by_seq = {ex.seq: ex for ex in spec.exhibits}
    for placed in result.exhibits:
        if placed.bates_first <= number <= placed.bates_last:
            label = by_seq[placed.seq].label
            where = f"page {number - placed.bates_first + 1} of exhibit {label} (Bates {spec.bates(number)})"
            break
    limit_mb = limit / 1_000_000
    alone = ", more than the limit on its own" if page_size > limit else ""
    return (
        f"Volume {volume.number} would be {volume.size_bytes / 1_000_000:.1f} MB, over the {limit_mb:g} MB volume size "
        f"limit (max_volume_mb), and {'cannot be divided any further' if lone else 'could not be divided to fit'}: "
        f"its largest page, {where}, takes "
        f"{page_size / 1_000_000:.1f} MB{alone}. Raise max_volume_mb to at least "
        f"{math.ceil(volume.size_bytes / 100_000) / 10:g}, or leave that exhibit out of this bundle and produce its "
        "file separately. No bundle was kept."
    )


def _largest_page(volume: Volume) -> tuple[int, int]:
    """(index, bytes) of the page whose content and resources take the most bytes in the saved volume. Whatever the
    page shares with others (the stamp font, one image drawn on several pages) counts in full: a volume holding
    that page alone would need all of it."""
    with pikepdf.open(volume.path) as pdf:
        sizes = [_reachable_bytes(page.obj, set()) for page in pdf.pages]
    best = max(range(len(sizes)), key=sizes.__getitem__)
    return best, sizes[best]


def _reachable_bytes(root: pikepdf.Object, seen: set) -> int:
    """Raw bytes of the streams a page draws with (contents, fonts, images, forms), leaving out those in `seen`."""
    total, stack = 0, [root.get("/Contents"), root.get("/Resources")]
    while stack:
        obj = stack.pop()
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
            continue
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Stream):
            total += int(obj.get("/Length", 0))
        if isinstance(obj, pikepdf.Array):
            stack.extend(obj)
        else:
            stack.extend(value for key, value in obj.items() if key != "/Parent")
    return total


# Images embedded byte for byte (img2pdf copies a JPEG's bytes into the PDF as they are): a page showing one holds
# at least the file's size, so a file over the limit is known to be too big before anything is built.
EMBEDDED_AS_IS = ("image/jpeg",)


def oversize_originals(limit_bytes: int, originals: list[tuple[str, str, int]]) -> str | None:
    """Why a bundle of these originals, (exhibit label, media type, size in bytes), cannot keep its volumes under
    `limit_bytes`; None when nothing shows it before building."""
    over = [
        (label, size) for label, media_type, size in originals if media_type in EMBEDDED_AS_IS and size > limit_bytes
    ]
    if not over:
        return None
    named = "; ".join(f"exhibit {label}, a {size / 1_000_000:.1f} MB JPEG image" for label, size in over)
    one = len(over) == 1
    return (
        f"max_volume_mb is {limit_bytes / 1_000_000:g} MB, but the page that shows an image holds the image file as "
        f"it is, and {'this one is' if one else 'these are'} larger than that on {'its' if one else 'their'} own: "
        f"{named}. Raise max_volume_mb to more than {math.ceil(max(size for _, size in over) / 100_000) / 10:g}, or "
        f"leave {'that exhibit' if one else 'those exhibits'} out of this bundle."
    )
