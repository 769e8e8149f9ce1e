"""Which pages go where: each exhibit's pages, and their split into volumes under a size limit."""

from dataclasses import dataclass, field

GENERATED_PAGE_BYTES = 6_000  # a WeasyPrint page once fonts are shared
FRONT_RESERVE_BYTES = 120_000  # cover, index and the embedded fonts of one volume
SAFETY = 0.9  # share of the limit the estimated pages may fill: estimates are rough


@dataclass
class PageRef:
    # "draw": a drawn slip sheet; "ex"/"late": the exhibit render (records, placeholders, WeasyPrint slip
    # sheets) and the render of late placeholders; "conv": the exhibit's converted original.
    source: str
    index: int
    seq: int
    first_content: bool = False
    has_text: bool = True
    est_bytes: int = GENERATED_PAGE_BYTES
    links: list = field(default_factory=list)  # (x0, y0, x1, y1, target conv page index)
    part: int = 0  # k of `parts` on the pages of an image split across pages; they share one image
    parts: int = 0


@dataclass
class Part:
    """An exhibit, or the part of one that fits in a volume."""

    seq: int
    pages: list[PageRef]
    number: int = 1
    of: int = 1

    @property
    def est_bytes(self) -> int:
        return sum(p.est_bytes for p in self.pages)


def groups(pages: list[PageRef]) -> list[list[PageRef]]:
    """An exhibit's pages in the runs no volume boundary may cut: its slip sheet (and any page before its content)
    with its first content page, so no volume ends on a slip sheet whose exhibit is in the next; and the pages of an
    image split across pages, which all draw the same image and would each carry a copy of it into another volume."""
    first = next((i for i, p in enumerate(pages) if p.first_content), 0)
    runs: list[list[PageRef]] = []
    for i, page in enumerate(pages):
        if runs and (i <= first or page.part > 1):
            runs[-1].append(page)
        else:
            runs.append([page])
    return runs


def split_volumes(exhibits: list[list[PageRef]], limit: int | None, safety: float = SAFETY) -> list[list[Part]]:
    """Fill volumes exhibit by exhibit; an exhibit too big for any volume is split into parts between the runs of
    `groups`. A run bigger than a volume gets one of its own (the build then reports it, see assemble)."""
    if not limit:
        return [[Part(pages[0].seq, pages) for pages in exhibits if pages]]
    capacity = max(int(limit * safety) - FRONT_RESERVE_BYTES, GENERATED_PAGE_BYTES)
    volumes: list[list[Part]] = [[]]
    used = 0
    for pages in exhibits:
        if not pages:
            continue
        size = sum(p.est_bytes for p in pages)
        if size <= capacity - used:
            volumes[-1].append(Part(pages[0].seq, pages))
            used += size
            continue
        if size <= capacity:
            volumes.append([Part(pages[0].seq, pages)])
            used = size
            continue
        chunk: list[PageRef]
        chunks, chunk, chunk_size = [], [], 0
        for run in groups(pages):
            run_size = sum(p.est_bytes for p in run)
            if chunk and chunk_size + run_size > capacity:
                chunks.append(chunk)
                chunk, chunk_size = [], 0
            chunk += run
            chunk_size += run_size
        chunks.append(chunk)
        if volumes[-1]:
            volumes.append([])
        for number, chunk in enumerate(chunks, 1):
            if number > 1:
                volumes.append([])
            volumes[-1].append(Part(pages[0].seq, chunk, number, len(chunks)))
        used = sum(p.est_bytes for p in chunks[-1])
    return [v for v in volumes if v]
