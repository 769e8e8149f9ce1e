"""The case's audit actions in words, as the Activity tab says them after the person's name ("uploaded evidence").

Only wording lives here: what an event means is what the service that recorded it says. An action with no words
yet is shown as its code, so a new kind of event is never hidden.
"""

ACTION_WORDS = {
    "case.create": "created the case",
    "case.update": "changed the case details",
    "case.export": "exported the case",
    "case.import": "imported the case",
    "evidence.upload": "uploaded evidence",
    "evidence.view": "viewed evidence",
    "evidence.download": "downloaded an original",
    "evidence.update": "edited evidence details",
    "evidence.custody": "produced a chain-of-custody report",
    "evidence.delete": "deleted evidence",
    "evidence.restore": "restored deleted evidence",
    "evidence.purge": "purged a deleted original",
    "evidence.integrity_failure": "found a damaged original",
    "exhibit.link": "made an exhibit",
    "exhibit.unlink": "removed an exhibit",
    "exhibit.update": "changed an exhibit",
    "exhibit.relabel": "relabelled an exhibit",
    "event.create": "added a timeline event",
    "event.update": "edited a timeline event",
    "event.delete": "deleted a timeline event",
    "events.import": "imported timeline events",
    "timeline.export": "exported the timeline",
    "bundle.build": "started a bundle",
    "bundle.rebuild": "rebuilt a bundle",
    "bundle.done": "bundle finished",
    "bundle.failed": "bundle failed",
    "bundle.cancel": "cancelled a bundle",
    "bundle.download": "downloaded a bundle",
    "bundle.integrity_failure": "found a damaged bundle volume",
    "filed_bundle.set": "marked the filed bundle",
    "filed_bundle.clear": "cleared the filed bundle",
    "member.add": "added a member",
    "member.role": "changed a member's role",
    "member.remove": "removed a member",
    "hold.set": "put the case on legal hold",
    "hold.release": "released the legal hold",
    "delete.refused": "was refused a deletion (legal hold)",
}
# An exhibit change named by what changed, when one thing did.
EXHIBIT_CHANGES = {
    "designation": "changed designation",
    "position": "moved an exhibit",
    "note": "changed an exhibit's note",
}
# The choices of the action filter: groups first (a prefix ending in "."), then single actions.
ACTION_GROUPS = {
    "evidence.": "Any evidence action",
    "exhibit.": "Any exhibit change",
    "event.": "Any timeline event change",
    "bundle.": "Any bundle action",
    "member.": "Any membership change",
    "hold.": "Any legal hold change",
}


def action_words(action: str, details: dict | None) -> str:
    """What the person did, in words; the action's code when there are none."""
    if action == "exhibit.update":
        changed = set((details or {}).get("after") or {})
        if len(changed) == 1 and (only := changed.pop()) in EXHIBIT_CHANGES:
            return EXHIBIT_CHANGES[only]
    if action == "evidence.upload" and (details or {}).get("duplicate"):
        return "uploaded evidence again (same file, nothing new stored)"
    return ACTION_WORDS.get(action, action)


def filter_choices() -> list[tuple[str, str]]:
    """(value, label) for the action filter: the groups, then every action in words, alphabetically."""
    singles = sorted(ACTION_WORDS.items(), key=lambda item: item[1])
    return [*ACTION_GROUPS.items(), *((code, words[:1].upper() + words[1:]) for code, words in singles)]
