"""A bundle as the Bundles pages say it: its state in words, the volume size presets, and its validation report
read out as sentences a paralegal can act on. Nothing here decides anything: the services do; this only names."""

import re
from dataclasses import dataclass

from api.services.bundle_downloads import servable
from models.bundle import Bundle, BundleStatus, Legend

# Volume size caps the builder offers, in the API's max_volume_mb (megabytes of 1,000,000 bytes: the smaller
# reading of "MB", so a volume within it is within a court's limit however the court counts). Each court sets its
# own CM/ECF limit and they change: the labels name examples, and "Another size" takes any other.
VOLUME_PRESETS = {
    "": "No limit: one PDF",
    "10": "10 MB per file (a common CM/ECF limit, bankruptcy courts especially)",
    "25": "25 MB per file",
    "35": "35 MB per file (CM/ECF in the C.D. Cal., for example)",
    "50": "50 MB per file (CM/ECF in the E.D. Pa., for example)",
    "other": "Another size…",
}
LEGENDS = {
    "": "Each exhibit's own designation, if it has one",
    Legend.confidential.value: "CONFIDENTIAL on every page",
    Legend.attorneys_eyes_only.value: "CONFIDENTIAL - ATTORNEYS' EYES ONLY on every page",
}
WITHHELD = {"confidential": "Confidential and attorneys' eyes only exhibits", "aeo": "Attorneys' eyes only exhibits"}

# What validate.py finds, in words: the objects an e-filing system refuses.
FORBIDDEN = {
    "/JavaScript": "JavaScript",
    "/JS": "JavaScript",
    "/OpenAction": "an action that runs when the file is opened",
    "/AA": "actions that run on opening pages or fields",
    "/Launch": "a command that starts another program",
    "/EmbeddedFiles": "attached files",
    "/EmbeddedFile": "attached files",
    "/XFA": "an XFA form",
    "/RichMedia": "embedded media",
    "/URI": "web links",
    "/SubmitForm": "a form that sends data",
    "/ImportData": "a form that loads data",
    "/GoToR": "links to other PDF files",
    "/GoToE": "links to embedded PDF files",
    "annotation /Widget": "fillable form fields",
    "annotation /FileAttachment": "attached files",
}


@dataclass(frozen=True)
class State:
    """What the bundle is doing, in words, and what can be done with it now."""

    word: str  # the status badge
    badge: str  # its CSS class: colour is never the only signal, the word always says it
    busy: bool  # queued or running: the page polls
    servable: bool  # it has a build to download
    note: str | None  # a sentence beside the badge


def state(bundle: Bundle) -> State:
    status = BundleStatus(bundle.status)
    busy = status in (BundleStatus.queued, BundleStatus.running)
    has_build = servable(bundle)
    if busy:
        word = "Waiting to build" if status == BundleStatus.queued else "Building"
        if has_build:
            word = "Waiting to rebuild" if status == BundleStatus.queued else "Rebuilding"
            return State(word, "badge", True, True, "Its last build can be downloaded until the new one is done.")
        return State(word, "badge", True, False, None)
    if status == BundleStatus.done:
        return State("Built", "badge ok", False, True, bundle.error)  # an error here: a rebuild that did not finish
    return State("Failed", "badge bad", False, False, bundle.error)


def progress(bundle: Bundle) -> tuple[int, int] | None:
    """(done, total) of a running build; None while it waits (the bar is then indeterminate)."""
    if bundle.status != BundleStatus.running or bundle.progress_total <= 0:
        return None
    return min(bundle.progress_done, bundle.progress_total), bundle.progress_total


def percent(done: int, total: int) -> int:
    return int(100 * done / total) if total else 0


def announcement(bundle: Bundle) -> str:
    """What the page announces when a build it watched ends."""
    if bundle.status == BundleStatus.done and bundle.error:
        return f"Bundle rebuild did not finish; the bundle keeps its previous build: {bundle.error}"
    if bundle.status == BundleStatus.done:
        return "Bundle built."
    return f"Bundle failed: {bundle.error or 'no reason was recorded'}"


def volume_cap(params: dict) -> str:
    mb = params.get("max_volume_mb")
    return f"{mb:g} MB per file" if mb else "No limit"


_BATES = re.compile(r"^(.*?)(\d+)$")


def bates_runs(numbers: list[str]) -> list[str]:
    """Bates numbers as runs ("ACME000003 to ACME000010"), so thousands of pages without text read as a few lines."""
    runs: list[list] = []  # [prefix, first number, last number, width, first text, last text]
    for text in numbers:
        match = _BATES.match(text)
        if match is None:
            runs.append([None, 0, 0, 0, text, text])
            continue
        prefix, digits = match.group(1), match.group(2)
        n = int(digits)
        last = runs[-1] if runs else None
        if last and last[0] == prefix and last[3] == len(digits) and last[2] + 1 == n:
            last[2], last[5] = n, text
        else:
            runs.append([prefix, n, n, len(digits), text, text])
    return [run[4] if run[4] == run[5] else f"{run[4]} to {run[5]}" for run in runs]


def forbidden_words(keys: list[str]) -> list[str]:
    """Forbidden objects in words, each once, in the order found."""
    words = [FORBIDDEN.get(key, "embedded media") for key in keys]  # the other annotations are media players
    return list(dict.fromkeys(words))
