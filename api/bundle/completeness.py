"""Whether each exhibit is reproduced in full, in words a lawyer reads: what the bundle records as each exhibit's
`rendering` and `rendering_reason`, what its pages say, and the warnings its validation lists."""

from dataclasses import replace

from api.bundle.render import human_size
from api.bundle.spec import BuildSpec, ExhibitSource, Rendering

NATIVE_HEADING = "Native file"
NATIVE_TEXT = (
    "This exhibit is produced in its native format; it cannot be shown on paper. "
    "The file is identified below by name, type, size and SHA-256."
)
NOT_REPRODUCED_HEADING = "Exhibit could not be reproduced"


def _file(ex: ExhibitSource) -> str:
    return f"{ex.original_filename} ({ex.media_type}, {human_size(ex.size_bytes)}), SHA-256 {ex.sha256}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def native(ex: ExhibitSource) -> tuple[ExhibitSource, tuple[str, str]]:
    """A file that cannot be shown on paper: its placeholder page, and the exhibit marked as such."""
    reason = (
        f"Not printed: a file of this type cannot be shown on paper. It is produced in its native format as "
        f"Exhibit {ex.label}'s file, {_file(ex)}, identified on its placeholder page."
    )
    return replace(ex, rendering=Rendering.placeholder, rendering_reason=reason), (NATIVE_HEADING, NATIVE_TEXT)


def printed_in_part(ex: ExhibitSource, losses: list[str]) -> tuple[ExhibitSource, tuple[str, str]]:
    """A record printed in part: the page that follows what is printed, naming the native file, and the exhibit
    marked truncated with what is left off."""
    said = "; ".join(losses)
    reason = (
        f"{_sentence(said)} The complete file is produced natively as Exhibit {ex.label}'s file, "
        f"{_file(ex)}, identified on the page after the printed part."
    )
    page = (
        f"Not all of Exhibit {ex.label} is printed on the pages before this one: {said}. The complete file is "
        "produced in its native format, identified below by name, type, size and SHA-256."
    )
    return replace(ex, rendering=Rendering.truncated, rendering_reason=reason), (NATIVE_HEADING, page)


def not_reproduced(ex: ExhibitSource, why: str) -> tuple[ExhibitSource, tuple[str, str]]:
    """An original that could not be converted: its placeholder page and the exhibit marked as a placeholder.
    `why` is already in words (see convert.py): no path, no exception, nothing from a stack."""
    reason = f"Not reproduced: {why.rstrip('.')}. The file is Exhibit {ex.label}'s file, {_file(ex)}."
    page = f"{_sentence(why)} The file is identified below by name, type, size and SHA-256."
    return replace(ex, rendering=Rendering.placeholder, rendering_reason=reason), (NOT_REPRODUCED_HEADING, page)


def warnings(spec: BuildSpec) -> list[dict]:
    """One warning per exhibit not reproduced in full, in bundle order."""
    return [
        {
            "label": ex.label,
            "exhibit_id": ex.exhibit_id,
            "rendering": ex.rendering.value,
            "reason": ex.rendering_reason,
        }
        for ex in spec.exhibits
        if ex.rendering != Rendering.complete
    ]
