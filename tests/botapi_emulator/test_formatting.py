"""The HTML parse mode, entity detection and entity-to-HTML rendering."""

from __future__ import annotations

import pytest

from botapi_emulator.entities import detect_entities, entities_to_html, trim
from botapi_emulator.formatting import HtmlError, parse_html, utf16_len


def test_every_allowed_tag_becomes_an_entity() -> None:
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><a href="https://example.org">a</a><code>c</code>'
        '<pre><code class="language-python">x</code></pre><blockquote>b</blockquote>'
        "<blockquote expandable>e</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )

    text, entities = parse_html(source)

    assert text == "bsieunskdpqacxbe👍"
    assert [e["type"] for e in entities] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    ]
    assert entities[11]["url"] == "https://example.org"
    assert entities[13]["language"] == "python"
    assert entities[16]["length"] == 2


def test_character_references_are_decoded() -> None:
    assert parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42;")[0] == 'a <b> & "c" AB'


def test_a_bare_ampersand_is_text_unless_strict() -> None:
    assert parse_html("Tom & Jerry")[0] == "Tom & Jerry"
    with pytest.raises(HtmlError, match='Unescaped "&" at byte offset 4'):
        parse_html("Tom & Jerry", strict=True)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("é<u>x</b>", 'Unmatched end tag at byte offset 6, expected "</u>", found "</b>"'),
        ("<tg-emoji emoji-id=x>y</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
    ],
)
def test_errors_match_telegram(source: str, error: str) -> None:
    with pytest.raises(HtmlError) as caught:
        parse_html(source)
    assert str(caught.value) == error


def test_trim_shifts_entities() -> None:
    text, entities = trim(*parse_html("  <b>hi</b> there \n"))

    assert text == "hi there"
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_detects_commands_mentions_hashtags_and_urls() -> None:
    text = "/start@chorus_bot hi @alice_b #strike see https://example.org/x."

    found = {
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in detect_entities(text)
    }

    assert found == {
        ("bot_command", "/start@chorus_bot"),
        ("mention", "@alice_b"),
        ("hashtag", "#strike"),
        ("url", "https://example.org/x"),
    }


def test_detection_skips_code() -> None:
    text, entities = parse_html("<code>/start</code> /help")

    types = [(e["type"], e["offset"]) for e in detect_entities(text, entities)]

    assert types == [("code", 0), ("bot_command", 7)]


def test_round_trip_to_html() -> None:
    source = '<b>Vote <i>now</i></b> 🗳 <a href="https://example.org/?a=1&amp;b=2">here</a> &lt;3'

    text, entities = parse_html(source)

    assert entities_to_html(text, entities) == source
    assert utf16_len("🗳") == 2


def test_overlapping_entities_render_as_valid_html() -> None:
    entities = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 2, "length": 4},
    ]

    html = entities_to_html("abcdef", entities)

    assert parse_html(html)[0] == "abcdef"
    assert html == "<b>ab<i>cd</i></b><i>ef</i>"
