"""Evidence files of a real shape, made as they are sent: mostly screenshots (PNG) and PDFs of a few KB to a few
MB, some e-mails, some archives of 5 to 20 MB and a few videos of 50 to 200 MB; non-Latin file names. Every file's
bytes are new (nothing deduplicates) and can be made again from its seed, so a retried upload sends the same file."""

import hashlib
import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PIL import Image

KiB, MiB = 1024, 1024 * 1024
CHUNK = MiB

NAMES = [
    "Скриншот отзыва",
    "証拠_レビュー",
    "مراجعة مزيفة",
    "Ελληνική κριτική",
    "리뷰 캡처",
    "Überweisung Rückerstattung",
]


def _picture(side: int, fmt: str) -> bytes:
    """Noise, so it does not compress: a PNG or a one-page PDF of `side` pixels square."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, format=fmt)
    return out.getvalue()


# Made once: a few sizes of each; each upload appends a unique trailer (after PNG's IEND, PDF's %%EOF).
TEMPLATES = {
    "png": [_picture(side, "PNG") for side in (16, 80, 200, 450)],  # ~1 KB to ~600 KB
    "pdf": [_picture(side, "PDF") for side in (60, 250, 700)],  # ~15 KB to ~1.5 MB
}


@dataclass(frozen=True)
class EvidenceFile:
    seed: int
    kind: str  # EvidenceKind
    suffix: str
    media: str
    size: int
    template: bytes = b""

    @property
    def filename(self) -> str:
        return f"{NAMES[self.seed % len(NAMES)]} {self.seed}.{self.suffix}"

    def chunks(self):
        """The file's bytes in chunks of at most 1 MiB."""
        trailer = f"\n%casebinder-loadtest {self.seed}\n".encode()
        if self.template:
            yield self.template + trailer
            return
        block = bytearray(random.Random(self.seed).randbytes(CHUNK))
        sent = 0
        while sent < self.size:
            block[:32] = hashlib.sha256(f"{self.seed}:{sent}".encode()).digest()
            piece = bytes(block[: min(CHUNK, self.size - sent)])
            sent += len(piece)
            yield piece

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for piece in self.chunks():
            digest.update(piece)
        return digest.hexdigest()


def pick(rng: random.Random, seed: int) -> EvidenceFile:
    roll = rng.random()
    if roll < 0.50:
        template = rng.choice(TEMPLATES["png"])
        return EvidenceFile(seed, "review_screenshot", "png", "image/png", len(template), template)
    if roll < 0.75:
        template = rng.choice(TEMPLATES["pdf"])
        return EvidenceFile(seed, "order_record", "pdf", "application/pdf", len(template), template)
    if roll < 0.88:
        return EvidenceFile(seed, "email", "eml", "message/rfc822", rng.randint(1 * KiB, 60 * KiB))
    if roll < 0.99:
        return EvidenceFile(seed, "listing_snapshot", "zip", "application/zip", rng.randint(5 * MiB, 20 * MiB))
    return EvidenceFile(seed, "other", "mp4", "video/mp4", rng.randint(50 * MiB, 200 * MiB))


async def multipart(file: EvidenceFile, fields: dict[str, str], boundary: str, sent: list[int]) -> AsyncIterator[bytes]:
    """The upload's multipart body, streamed; `sent[0]` counts the file bytes handed over."""
    head = b""
    for name, value in fields.items():
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.filename}"\r\n'
        f"Content-Type: {file.media}\r\n\r\n"
    ).encode()
    yield head
    for piece in file.chunks():
        sent[0] += len(piece)
        yield piece
    yield f"\r\n--{boundary}--\r\n".encode()
