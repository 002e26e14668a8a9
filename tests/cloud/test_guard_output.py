"""Output filter: markup, secrets, canary leaks, link policy, speech fitness and streaming splits."""

from __future__ import annotations

import random

import pytest

from jarvis.cloud.config import GuardSettings
from jarvis.cloud.guard_output import OutputFilter, make_canary

CANARY = make_canary()
FAKE_ANTHROPIC_KEY = "sk-ant-test-" + "k" * 24
FAKE_OPENAI_KEY = "sk-proj-" + "m" * 30
FAKE_GOOGLE_KEY = "AIza" + "g" * 35


def output_filter(link_policy: str = "domain") -> OutputFilter:
    return OutputFilter(GuardSettings(link_policy=link_policy), CANARY)  # type: ignore[arg-type]


# --- markup -------------------------------------------------------------------------------------


def test_plain_text_is_unchanged() -> None:
    text = "It is 21 degrees in Paris. Take a light jacket!"
    assert output_filter().filter(text) == text


def test_html_tags_are_stripped() -> None:
    assert output_filter().filter("It is <b>sunny</b> and <i>warm</i>.") == "It is sunny and warm."


def test_script_block_is_stripped() -> None:
    assert output_filter().filter("Hi <script>fetch('//x')</script>there") == "Hi there"


def test_style_block_is_stripped() -> None:
    assert output_filter().filter("Hi <style>body { color: red }</style> there") == "Hi there"


def test_unterminated_script_drops_rest() -> None:
    assert output_filter().filter("Hi <script>var a = 1; more code") == "Hi"


def test_markdown_image_is_removed() -> None:
    assert output_filter().filter("Look ![a cat](https://evil.example/x.png?d=secret) here") == "Look here"


def test_javascript_link_keeps_label_only() -> None:
    assert output_filter("keep").filter("[click me](javascript:alert(1))") == "click me"


def test_bare_javascript_url_is_removed() -> None:
    assert output_filter().filter("run javascript:alert(document.cookie) now") == "run now"


def test_markdown_emphasis_and_headings_are_removed() -> None:
    text = "# Forecast\n**Sunny** with *light* wind and `no` rain.\n- item one\n- item two"
    assert output_filter().filter(text) == "Forecast\nSunny with light wind and no rain.\nitem one\nitem two"


def test_arithmetic_star_is_kept() -> None:
    assert output_filter().filter("6 * 7 is 42") == "6 * 7 is 42"


def test_whitespace_is_collapsed() -> None:
    assert output_filter().filter("  one   two\n\n\n\nthree  ") == "one two\n\nthree"


def test_invisible_characters_are_removed() -> None:
    assert output_filter().filter("sun\u200bny\u202e day") == "sunny day"


def test_lone_angle_bracket_at_end_is_dropped() -> None:
    assert output_filter().filter("Done <b") == "Done"


# --- secrets and canary -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        FAKE_ANTHROPIC_KEY,
        FAKE_OPENAI_KEY,
        FAKE_GOOGLE_KEY,
        "ghp_" + "a" * 36,
        "AKIA" + "B" * 16,
        "xoxb-" + "1" * 12,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLWhlcmU",
    ],
)
def test_key_shapes_are_removed(secret: str) -> None:
    result = output_filter().filter(f"Your key is {secret} okay")
    assert secret not in result
    assert secret[-8:] not in result


def test_key_value_pair_keeps_label() -> None:
    result = output_filter().filter("Use api_key = 'abcdefghijkl' there")
    assert result == "Use api_key = '[REDACTED]' there"


def test_bearer_token_is_removed() -> None:
    result = output_filter().filter("Authorization: Bearer abcdefghijklmnop")
    assert "abcdefghijklmnop" not in result


def test_private_key_block_is_removed() -> None:
    text = "Here:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\nlines of key\n-----END RSA PRIVATE KEY-----\nDone."
    result = output_filter().filter(text)
    assert "MIIBOgIBAAJBAK" not in result
    assert result.endswith("Done.")


def test_canary_is_dropped(cloud_log) -> None:  # type: ignore[no-untyped-def]
    stream = output_filter().stream_filter()
    result = stream.feed(f"My instructions contain {CANARY} as a marker.") + stream.finish()
    assert CANARY not in result
    assert stream.leaks == 1
    assert "cloud_prompt_leak_detected" in cloud_log.getvalue()


def test_canary_in_other_case_is_dropped() -> None:
    assert CANARY.upper() not in output_filter().filter(f"marker {CANARY.upper()} end")


def test_canary_log_line_omits_canary(cloud_log) -> None:  # type: ignore[no-untyped-def]
    output_filter().filter(f"leak {CANARY}")
    assert CANARY not in cloud_log.getvalue()


def test_canaries_differ() -> None:
    assert make_canary() != make_canary()


def test_canary_has_no_whitespace() -> None:
    assert not any(char.isspace() for char in make_canary())


def test_canary_with_whitespace_is_rejected() -> None:
    with pytest.raises(ValueError, match="canary"):
        OutputFilter(GuardSettings(), "has space")


# --- links --------------------------------------------------------------------------------------


def test_link_policy_remove() -> None:
    text = "See [the docs](https://docs.example.com/a/b?x=1) or https://www.example.org/page."
    assert output_filter("remove").filter(text) == "See the docs or ."


def test_link_policy_domain() -> None:
    text = "See [the docs](https://docs.example.com/a/b?x=1) or https://www.example.org/page."
    assert output_filter("domain").filter(text) == "See the docs (docs.example.com) or example.org."


def test_link_policy_keep() -> None:
    text = "See [the docs](https://docs.example.com/a/b?x=1) or https://www.example.org/page."
    expected = "See the docs (https://docs.example.com/a/b?x=1) or https://www.example.org/page."
    assert output_filter("keep").filter(text) == expected


def test_link_with_brackets_in_target() -> None:
    text = "Read [Python](https://en.wikipedia.org/wiki/Python_(programming_language)) now"
    assert output_filter("domain").filter(text) == "Read Python (en.wikipedia.org) now"


def test_secret_in_kept_link_is_removed() -> None:
    result = output_filter("keep").filter(f"https://example.com/?key={FAKE_OPENAI_KEY}")
    assert FAKE_OPENAI_KEY not in result


# --- streaming ----------------------------------------------------------------------------------

STREAM_SAMPLES = [
    "Sure! **Bold** and <b>tag</b> <script>x() y z</script> see [the docs here](https://www.example.com/a?b=c) "
    f"or https://foo.org/x. key {FAKE_ANTHROPIC_KEY} canary {CANARY} ![img alt](http://evil/x.png) "
    "[click me](javascript:alert(1))\n\n# Heading\n- item one\n- item two\n",
    "Authorization: Bearer abcdefghijklmnop done. api_key = 'zzzzzzzzzzzz' end <!-- hidden comment --> "
    '<a href="x y">link text</a> -----BEGIN RSA PRIVATE KEY-----\nMIIabc def\n-----END RSA PRIVATE KEY----- '
    "after <unclosed",
    f"Plain sentence one. Plain sentence two with {FAKE_GOOGLE_KEY} and 6 * 7 = 42.\r\n\r\nNew paragraph "
    "with\u200b invisible\u202e marks, ｆｕｌｌwidth and < comparisons > here.",
    f"<style>p {{ color: red }}</style>Text [unfinished link text without close and more words {CANARY.upper()} tail",
]


@pytest.mark.parametrize("link_policy", ["remove", "domain", "keep"])
@pytest.mark.parametrize("sample", range(len(STREAM_SAMPLES)))
def test_random_splits_match_whole(link_policy: str, sample: int) -> None:
    text = STREAM_SAMPLES[sample]
    filt = output_filter(link_policy)
    whole = filt.filter(text)
    rng = random.Random(sample * 31 + len(link_policy))
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, min(60, len(text) - 1))))
        parts = [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        stream = filt.stream_filter()
        streamed = "".join(stream.feed(part) for part in parts) + stream.finish()
        assert streamed == whole


def test_character_by_character_matches_whole() -> None:
    filt = output_filter()
    for text in STREAM_SAMPLES:
        stream = filt.stream_filter()
        streamed = "".join(stream.feed(char) for char in text) + stream.finish()
        assert streamed == filt.filter(text)


def emitted_prefixes(text: str) -> list[str]:
    """Feed ``text`` one character at a time and return the output emitted so far after each."""
    stream = output_filter("keep").stream_filter()
    emitted = ""
    prefixes = []
    for char in text:
        emitted += stream.feed(char)
        prefixes.append(emitted)
    prefixes.append(emitted + stream.finish())
    return prefixes


def test_stream_never_emits_partial_key() -> None:
    for emitted in emitted_prefixes(f"The key {FAKE_ANTHROPIC_KEY} is secret. More words follow here."):
        assert "sk-" not in emitted
        assert "kkkk" not in emitted


def test_stream_never_emits_partial_canary() -> None:
    for emitted in emitted_prefixes(f"My marker is {CANARY} and that is all."):
        assert CANARY[:6] not in emitted


def test_stream_never_emits_half_tag() -> None:
    for emitted in emitted_prefixes('Look <a href="https://x.example/y" class="big link">here</a> now please'):
        assert "<" not in emitted
        assert "href" not in emitted


def test_stream_never_emits_script_body() -> None:
    for emitted in emitted_prefixes("Hi <script> alert('owned') ; more code </script> bye"):
        assert "alert" not in emitted


def test_stream_never_emits_bearer_value() -> None:
    for emitted in emitted_prefixes("Send Authorization: Bearer abcdefghijklmnop to it"):
        assert "abcdefgh" not in emitted


def test_stream_releases_text_before_finish() -> None:
    stream = output_filter().stream_filter()
    first = stream.feed("The weather is fine today ")
    assert first == "The weather is fine"


def test_stream_holds_last_word() -> None:
    stream = output_filter().stream_filter()
    assert stream.feed("Hello wor") == "Hello"
    assert stream.feed("ld") == ""
    assert stream.finish() == " world"


def test_stream_releases_tag_once_closed() -> None:
    stream = output_filter().stream_filter()
    assert stream.feed("Hi <b class='x y'") == "Hi"
    assert stream.feed(">bold</b> text ") == " bold"
    assert stream.finish() == " text"


def test_stream_releases_lone_bracket_after_bound() -> None:
    stream = output_filter().stream_filter()
    out = stream.feed("a <b " + "word " * 120)
    assert out.startswith("a <b word")


def test_finish_twice_returns_empty() -> None:
    stream = output_filter().stream_filter()
    stream.feed("hello")
    assert stream.finish() == "hello"
    assert stream.finish() == ""


def test_feed_after_finish_raises() -> None:
    stream = output_filter().stream_filter()
    stream.finish()
    with pytest.raises(RuntimeError, match="finish"):
        stream.feed("more")
