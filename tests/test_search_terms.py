"""How search reads words (api/search/terms.py) and queries (api/search/query.py): the rules both databases are
given the same tokens by. The databases themselves are exercised in tests/test_search.py."""

import random

import pytest

from api.search import query, terms

pytestmark = pytest.mark.once  # no database: run on one leg of `make test`


def test_the_words_of_a_text_and_where_they_are_written_agree():
    """Snippets find hits by the words' places (spans), the index by the words alone: they must be the same."""
    rng = random.Random(5)
    samples = [
        "Café Straße naïve ÆON Øre İstanbul",
        "返金済み 日本語のテキスト refund",
        "รีวิวห้าดาว ได้เงินคืน",
        "⑴ ½ ｶﾞ ℃ ㍻ ﬁne 𝐀𝐁𝐂 🙂 𠀀𠀁",
        "x" * 150 + " " + "é" * 70,
        "a\u0301b\u0301 \u0301lead e\u0301\u0301",
    ]
    for _ in range(500):
        samples.append(
            "".join(
                chr(
                    rng.choice(
                        [rng.randrange(0x20, 0x3000), rng.randrange(0x3000, 0xFFFF), rng.randrange(0x10000, 0x30000)]
                    )
                )
                for _ in range(rng.randrange(1, 60))
            )
        )
    for text in samples:
        if 0xD800 <= max(map(ord, text)) <= 0xDFFF:
            continue
        assert terms.words(text) == [w for _, _, w in terms.spans(text)], text


def test_tokens_are_plain_ascii_and_never_collide():
    seen = {}
    for word in ["refund", "xray", "x", "xe697a5", "日", "é", "e", "αβγ", "x1", "9" * 64]:
        stem_token, word_token = terms.keys(word)
        for token in (stem_token, word_token):
            assert token.isascii() and token.isalnum() and token == token.lower(), token
        assert seen.setdefault(word_token, word) == word, (word, seen[word_token])
    assert terms.keys("refunded") == ("refund", "refunded") and terms.keys("b07xj8") == ("b07xj8", "b07xj8")
    # A word longer than 64 characters is several words of 64, read the same in a query.
    assert terms.words("a" * 130) == ["a" * 64, "a" * 64, "aa"] == terms.words("A" * 130)


@pytest.mark.parametrize(
    "q, fts5, tsquery",
    [
        ("refunded", '(stems : "refund")', "'refund':A"),
        ('"Five-Star review"', '(stems : "five" + "star" + "review")', "('five':A <-> 'star':A <-> 'review':A)"),
        ("refun*", '(words : "refun" *)', "'refun':*B"),
        ("a NOT b OR c", '(((stems : "a") NOT (stems : "b")) OR (stems : "c"))', "(('a':A & !'b':A) | 'c':A)"),
        (
            "xray 日本",
            '((stems : "xxray") AND (stems : "xe697a5" + "xe69cac"))',
            "('xxray':A & ('xe697a5':A <-> 'xe69cac':A))",
        ),
    ],
)
def test_queries_are_written_for_each_engine_from_tokens_only(q, fts5, tsquery):
    node = query.parse(q)
    assert (query.fts5(node), query.tsquery(node)) == (fts5, tsquery)
