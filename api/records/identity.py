"""Who is who across record sets: the keys of one party in one record link into one identity (connected
components, kept in a union-find). Keys are typed, so an id never meets an e-mail address by accident:

- `id:` account ids, reviewer ids, buyer ids and seller values (a seller value is that seller's account_id);
- `em:` e-mail and PayPal addresses, trimmed and in lower case;
- `ph:` phone numbers in E.164;
- `url:` profile URLs, without scheme, `www.`, fragment or trailing slash, the host in lower case.

Within a record only one party's keys link: an account's identity fields; a message's reviewer_id with its
contact_email (never its from and to); a review's reviewer_id, a payment's payee_email and an order's buyer_id
stand alone. Names never link: two people share a name.
"""

import re
from collections.abc import Iterable, Iterator

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def id_key(value: str | None) -> str | None:
    return f"id:{value.strip()}" if value and value.strip() else None


def email_key(value: str | None) -> str | None:
    return f"em:{value.strip().lower()}" if value and "@" in value else None


def phone_key(value: str | None) -> str | None:
    return f"ph:{value.strip()}" if value and value.strip() else None


def url_key(value: str | None) -> str | None:
    """A profile URL without its scheme, `www.` and fragment, its host in lower case. The path and the query stay as
    they are: they name the profile (`/sp?seller=A1B2` is one seller's page, not every seller's)."""
    if not value or not value.strip():
        return None
    text = _URL.sub("", value.strip()).split("#", 1)[0]
    host, slash, rest = text.partition("/")
    host = host.lower().removeprefix("www.")
    rest = rest.rstrip("/") if "?" not in rest else rest
    text = f"{host}{slash}{rest}".rstrip("/")
    return f"url:{text}" if host else None


def party_key(value: str | None) -> str | None:
    """A payer or payee named by address or by account id."""
    if not value or not value.strip():
        return None
    return email_key(value) if "@" in value else id_key(value)


class Identities:
    """A union-find over keys: `link` the keys of one party, then `of` gives each key's identity (a key standing
    for all the keys linked to it)."""

    def __init__(self):
        self._parent: dict[str, str] = {}

    def _root(self, key: str) -> str:
        parent = self._parent
        root = key
        while (up := parent.get(root, root)) != root:
            root = up
        while key != root:  # path compression
            up = parent[key]
            parent[key] = root
            key = up
        return root

    def link(self, keys: Iterable[str | None]) -> None:
        present = [k for k in keys if k]
        if len(present) < 2:
            return
        first = self._root(present[0])
        for key in present[1:]:
            other = self._root(key)
            if other != first:
                # The smaller key stays the root: the same data gives the same identities whatever the order.
                if other < first:
                    first, other = other, first
                self._parent[other] = first
                self._parent.setdefault(first, first)

    def of(self, key: str | None) -> str | None:
        if key is None:
            return None
        return self._root(key) if key in self._parent else key

    def keys(self) -> Iterator[str]:
        """Every key linked to another."""
        return iter(self._parent)

    def members(self, roots: set[str]) -> dict[str, list[str]]:
        """The keys of each of these identities, sorted (a key nothing links to is its own only member)."""
        out: dict[str, list[str]] = {root: [root] for root in roots}
        for key in self._parent:
            root = self._root(key)
            if root in out and key != root:
                out[root].append(key)
        return {root: sorted(keys) for root, keys in out.items()}
