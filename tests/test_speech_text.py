"""make_speakable: every rule that turns an answer into text a TTS voice reads well."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.sentences import split_sentences
from jarvis.speech_text import make_speakable

CODE = "I've skipped a code block here."


def _check(cases: list[tuple[str, str]]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("text", "spoken"), cases, ids=[text[:40] for text, _ in cases])


@_check(
    [
        ("# Title", "Title."),
        ("## Title ##", "Title."),
        ("###### Deep heading", "Deep heading."),
        ("#hashtag stays a word", "hashtag stays a word."),
        ("**bold** text", "bold text."),
        ("__strong__ text", "strong text."),
        ("*em* and _em_", "em and em."),
        ("***both***", "both."),
        ("~~gone~~ here", "gone here."),
        ("Use `pip install` now", "Use pip install now."),
        ("Run ``a `b` c`` here", "Run a b c here."),
        ("> Quoted *text*", "Quoted text."),
        ("> > nested quote", "nested quote."),
        ("- one\n- two", "one. two."),
        ("* one\n+ two", "one. two."),
        ("1. first\n2) second", "first. second."),
        ("- [ ] todo\n- [x] done", "todo. done."),
        ("  - indented item", "indented item."),
        ("---", ""),
        ("***", ""),
        ("Above\n\n___\n\nBelow", "Above. Below."),
        ("| Name | Age |\n|------|-----|\n| Ann | 30 |", "Name, Age. Ann, thirty."),
        ("|a|b|\n|:-|-:|\n|1|2|", "a, b. one, two."),
        ("See [the docs](https://x.org/a) now", "See the docs now."),
        ("See [docs][1] now\n\n[1]: https://x.org", "See docs now."),
        ("A picture ![cat](cat.png) here", "A picture here."),
        ("Text[^1] here.", "Text here."),
        ("Line one<br>Line two", "Line one. Line two."),
        ("Some <b>bold</b> html", "Some bold html."),
        ("Escaped \\*stars\\*", "Escaped stars."),
        ("snake_case_name", "snake case name."),
        ("A line that\nwraps here", "A line that wraps here."),
        ("First line\nSecond line", "First line. Second line."),
    ]
)
def test_markdown_is_unwrapped(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("```python\nprint('hi')\n```", CODE),
        ("Try this:\n```\nx = 1\n```\nDone.", f"Try this: {CODE} Done."),
        ("~~~\ncode\n~~~", CODE),
        ("```\nunclosed block", CODE),
        ("```a\n1\n```\n```b\n2\n```", CODE),
        ("Intro.\n\n    indented code\n    more code\n\nAfter.", f"Intro. {CODE} After."),
    ]
)
def test_code_blocks_are_left_out(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("Visit https://www.example.com/path?x=1.", "Visit example dot com."),
        ("Visit http://docs.python.org/3/", "Visit docs dot python dot org."),
        ("Go to www.example.org/a, then", "Go to example dot org, then."),
        ("Try github.com today", "Try github dot com today."),
        ("Open <https://example.com/x>", "Open example dot com."),
        ("See https://en.wikipedia.org/wiki/A_(b) ok", "See en dot wikipedia dot org ok."),
        ("Open http://127.0.0.1:8000/docs", "Open one hundred twenty-seven dot zero dot zero dot one."),
        ("Mail john.doe@example.com now", "Mail john dot doe at example dot com now."),
        ("Mail a_b+tag@mail.example.co.uk.", "Mail a underscore b plus tag at mail dot example dot co dot uk."),
        ("Mail first-last@x.org", "Mail first dash last at x dot org."),
        ("Edit setup.py and Node.js", "Edit setup.py and Node.js."),
    ]
)
def test_web_addresses_are_spoken(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("Great job! 🎉👍", "Great job!"),
        ("I ❤️ this", "I this."),
        ("Family 👨‍👩‍👧 flag 🇺🇸 done", "Family flag done."),
        ("✅ Fast\n✅ Small", "Fast. Small."),
        ("Box ─── drawing ■ shapes", "Box drawing shapes."),
        ("🎉🎉", ""),
        ("🎉", ""),
    ]
)
def test_emoji_are_removed(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("Q&A", "Q and A."),
        ("A+B", "A plus B."),
        ("C++ and C# and F#", "C plus plus and C sharp and F sharp."),
        ("x = y", "x equals y."),
        ("x == y", "x equals y."),
        ("a != b", "a is not equal to b."),
        ("5 <= 6 and 7 >= 6", "five is less than or equal to six and seven is greater than or equal to six."),
        ("3 > 2 and 1 < 2", "three is greater than two and one is less than two."),
        ("a → b and c -> d", "a to b and c to d."),
        ("~10 items", "about ten items."),
        ("≈ $20", "approximately twenty dollars."),
        ("Ranked #1", "Ranked number one."),
        ("±5", "plus or minus five."),
        ("10 ÷ 2", "ten divided by two."),
        ("2 × 3", "two times three."),
        ("2 * 3 and y * 2", "two times three and y times two."),
        ("x^2", "x to the power of two."),
        ("yes/no", "yes or no."),
        ("and/or", "and or."),
        ("TCP/IP", "TCP IP."),
        ("w/ sugar, w/o milk", "with sugar, without milk."),
        ("see /usr/bin", "see slash usr slash bin."),
        ("€9.99/month", "nine euros ninety-nine cents per month."),
        ("$5/mo", "five dollars per month."),
        ("$12.99/lb", "twelve dollars ninety-nine cents per pound."),
        ("edit your .env file", "edit your dot env file."),
        ("user @ home", "user at home."),
        ("§ 5", "section five."),
        ("Apple™ and Acme®", "Apple and Acme."),
        ("word — another", "word, another."),
        ("a | b", "a, b."),
        ("“Quoted” and ‘single’", "\"Quoted\" and 'single'."),
    ]
)
def test_symbols_become_words(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("0", "Zero."),
        ("It is 7", "It is seven."),
        ("It is 1,234,567", "It is one million two hundred thirty-four thousand five hundred sixty-seven."),
        ("It is 1234567", "It is one million two hundred thirty-four thousand five hundred sixty-seven."),
        ("It is -5", "It is minus five."),
        ("It is −2", "It is minus two."),
        ("It is 3.14", "It is three point one four."),
        ("It is -3.5", "It is minus three point five."),
        ("It is .5", "It is zero point five."),
        ("It is 2.0", "It is two point zero."),
        ("It is 1000000000000", "It is one trillion."),
        ("Code 007", "Code zero zero seven."),
        ("Count 12,34 and 1,2,3", "Count twelve, thirty-four and one, two, three."),
        ("COVID-19 news", "COVID-nineteen news."),
        ("10k users", "ten thousand users."),
        ("5M downloads", "five million downloads."),
        ("3bn people", "three billion people."),
        ("4K video", "four K video."),
        ("Gate 22B", "Gate twenty-two B."),
        ("221B Baker Street", "two hundred twenty-one B Baker Street."),
    ]
)
def test_numbers_are_spelled(text: str, spoken: str) -> None:
    assert make_speakable(text).lower() == spoken.lower()


@_check(
    [
        ("the 1st", "the first."),
        ("the 2nd", "the second."),
        ("the 3rd", "the third."),
        ("the 11th", "the eleventh."),
        ("the 22nd", "the twenty-second."),
        ("the 101st", "the one hundred first."),
        ("the 1,000th", "the one thousandth."),
    ]
)
def test_ordinals_are_spelled(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("50%", "fifty percent."),
        ("3.5%", "three point five percent."),
        ("-2%", "minus two percent."),
        ("10-20%", "ten to twenty percent."),
        ("5-10", "five to ten."),
        ("5–10 km", "five to ten kilometers."),
        ("pages 5-10, then", "pages five to ten, then."),
        ("1999-2001", "nineteen ninety-nine to two thousand one."),
        ("2024-25", "twenty twenty-four to twenty-five."),
        ("5 - 3 = 2", "five minus three equals two."),
    ]
)
def test_percentages_and_ranges(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("1/2", "one half."),
        ("1/3", "one third."),
        ("2/3", "two thirds."),
        ("3/4", "three quarters."),
        ("5/8", "five eighths."),
        ("1 1/2 cups", "one and a half cups."),
        ("2 3/4 miles", "two and three quarters miles."),
        ("½", "one half."),
        ("1½", "one and a half."),
        ("2¼", "two and a quarter."),
        ("8/10", "eight out of ten."),
        ("4.5/5 stars", "four point five out of five stars."),
        ("24/7", "twenty-four seven."),
        ("50/50", "fifty-fifty."),
        ("13/5", "thirteen slash five."),
    ]
)
def test_fractions(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("in 1999", "in nineteen ninety-nine."),
        ("in 2026", "in twenty twenty-six."),
        ("since 1900", "since nineteen hundred."),
        ("by 2005", "by two thousand five."),
        ("from 1999 to 2001", "from nineteen ninety-nine to two thousand one."),
        ("the year 2010", "the year twenty ten."),
        ("500 BC", "five hundred BC."),
        ("AD 1492", "AD fourteen ninety-two."),
        ("1999's best", "nineteen ninety-nine's best."),
        ("Tokyo (2023)", "Tokyo (twenty twenty-three)."),
        ("In Q3 2024", "In Q3 twenty twenty-four."),
        ("He had 2026 apples", "He had two thousand twenty-six apples."),
        ("the 1990s", "the nineteen nineties."),
        ("the 2000s", "the two thousands."),
        ("the '80s", "the eighties."),
        ("in their 20s", "in their twenties."),
        ("100s of people", "hundreds of people."),
        ("1000s of stars", "thousands of stars."),
    ]
)
def test_years_and_decades(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("$5", "five dollars."),
        ("$1", "one dollar."),
        ("$5.99", "five dollars ninety-nine cents."),
        ("$1.01", "one dollar one cent."),
        ("$0.99", "ninety-nine cents."),
        ("$5.00", "five dollars."),
        ("$5.5", "five dollars fifty cents."),
        ("$1,234.56", "one thousand two hundred thirty-four dollars fifty-six cents."),
        ("$0.005", "zero point zero zero five dollars."),
        ("$1.5 million", "one point five million dollars."),
        ("$2 billion", "two billion dollars."),
        ("$3.2bn", "three point two billion dollars."),
        ("$5k", "five thousand dollars."),
        ("$5M", "five million dollars."),
        ("$5-10", "five to ten dollars."),
        ("$5 to $10", "five to ten dollars."),
        ("-$5", "minus five dollars."),
        ("€20", "twenty euros."),
        ("€1", "one euro."),
        ("20€", "twenty euros."),
        ("£3.50", "three pounds fifty pence."),
        ("£0.01", "one penny."),
        ("¥100", "one hundred yen."),
        ("₹50", "fifty rupees."),
        ("USD 5", "five dollars."),
        ("5 USD", "five dollars."),
        ("EUR 3.50", "three euros fifty cents."),
        ("CAD 10", "ten Canadian dollars."),
        ("US$5", "five dollars."),
    ]
)
def test_money(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("Call +1 555 123 4567", "Call plus one, five five five, one two three, four five six seven."),
        ("Call +44 20 7946 0958", "Call plus four four, two zero, seven nine four six, zero nine five eight."),
        ("Call (555) 123-4567", "Call five five five, one two three, four five six seven."),
        ("Call 555.123.4567", "Call five five five, one two three, four five six seven."),
        ("Call 1-800-555-1234", "Call one, eight zero zero, five five five, one two three four."),
        ("Call +15551234567", "Call plus one five five five one two three four five six seven."),
    ]
)
def test_phone_numbers_are_read_digit_by_digit(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("at 14:30", "at fourteen thirty."),
        ("at 14:05", "at fourteen oh five."),
        ("at 14:00", "at fourteen hundred."),
        ("at 9:00", "at nine o'clock."),
        ("at 09:00", "at nine o'clock."),
        ("at 12:00", "at twelve o'clock."),
        ("at 00:00", "at midnight."),
        ("at 00:30", "at twelve thirty a m."),
        ("at 2:05 PM", "at two oh five p m."),
        ("at 2:00 pm", "at two p m."),
        ("at 11:45am", "at eleven forty-five a m."),
        ("at 12:30:15", "at twelve thirty and fifteen seconds."),
        ("at 5pm", "at five p m."),
        ("at 5 PM", "at five p m."),
        ("at 5 p.m. today", "at five p m today."),
        ("at 6 a.m. Then we ate", "at six a m. Then we ate."),
        ("at 6 a.m.", "at six a m."),
        ("ratio 16:9", "ratio sixteen to nine."),
        ("a 1:16 ratio", "a one to sixteen ratio."),
        ("a ratio of 1:15", "a ratio of one to fifteen."),
        ("over 2:30 min", "over two minutes and thirty seconds."),
        ("over 1:00 min", "over one minute."),
        ("took 1:15 h", "took one hour and fifteen minutes."),
        ("John 3:16", "John three sixteen."),
    ]
)
def test_times(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("On 2026-12-04", "On December fourth, twenty twenty-six."),
        ("On 2026-12-04T14:30:00Z", "On December fourth, twenty twenty-six at fourteen thirty."),
        ("On 2026/01/02", "On January second, twenty twenty-six."),
        ("On 12/04/2026", "On December fourth, twenty twenty-six."),
        ("On 25/12/2026", "On December twenty-fifth, twenty twenty-six."),
        ("On 04.12.2026", "On December fourth, twenty twenty-six."),
        ("On Dec 4", "On December fourth."),
        ("On Dec. 4th, 2026, we met", "On December fourth, twenty twenty-six, we met."),
        ("On December 31 2026", "On December thirty-first, twenty twenty-six."),
        ("On 4 December 2026", "On the fourth of December, twenty twenty-six."),
        ("The 1st of May", "The first of May."),
        ("In June 2026", "In June twenty twenty-six."),
        ("Mar 3", "March third."),
    ]
)
def test_dates(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("1 km", "one kilometer."),
        ("5 km", "five kilometers."),
        ("5km", "five kilometers."),
        ("2.5 kg", "two point five kilograms."),
        ("1.0 kg", "one point zero kilograms."),
        ("5 m", "five meters."),
        ("1 m", "one meter."),
        ("5 cm", "five centimeters."),
        ("2 mm", "two millimeters."),
        ("10 g", "ten grams."),
        ("5 mg", "five milligrams."),
        ("1 lb", "one pound."),
        ("5 lbs", "five pounds."),
        ("8 oz", "eight ounces."),
        ("60 mph", "sixty miles per hour."),
        ("100 km/h", "one hundred kilometers per hour."),
        ("3 m/s", "three meters per second."),
        ("20°C", "twenty degrees Celsius."),
        ("68 °F", "sixty-eight degrees Fahrenheit."),
        ("-3 ℃", "minus three degrees Celsius."),
        ("1°", "one degree."),
        ("90°", "ninety degrees."),
        ("2 TB", "two terabytes."),
        ("16 GB", "sixteen gigabytes."),
        ("512 MB", "five hundred twelve megabytes."),
        ("64 KB", "sixty-four kilobytes."),
        ("3 GHz", "three gigahertz."),
        ("800 MHz", "eight hundred megahertz."),
        ("200 ms", "two hundred milliseconds."),
        ("1 s", "one second."),
        ("30 s", "thirty seconds."),
        ("5 min", "five minutes."),
        ("1 h", "one hour."),
        ("3 hrs", "three hours."),
        ("500 ml", "five hundred milliliters."),
        ("2 l", "two liters."),
        ("60 W", "sixty watts."),
        ("5 kW", "five kilowatts."),
        ("1 kWh", "one kilowatt hour."),
        ("12 V", "twelve volts."),
        ("5000 mAh", "five thousand milliamp hours."),
        ("6 ft", "six feet."),
        ("1 ft", "one foot."),
        ("3 tbsp", "three tablespoons."),
        ("1/2 tsp salt", "one half teaspoon salt."),
        ("1 1/2 tsp salt", "one and a half teaspoons salt."),
        ("½ tsp", "one half teaspoon."),
        ("5-10 km", "five to ten kilometers."),
        ("2–3 s", "two to three seconds."),
        ("5'10\" tall", "five feet ten inches tall."),
        ('a 6.1" display', "a six point one inches display."),
        ('He said "call 5" now', 'He said "call five" now.'),
    ]
)
def test_units(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("e.g. this", "for example this."),
        ("e.g., this", "for example, this."),
        ("i.e. that", "that is that."),
        ("apples, pears, etc.", "apples, pears, et cetera."),
        ("pears, etc. and more", "pears, et cetera and more."),
        ("pears, etc. Then more", "pears, et cetera. Then more."),
        ("cats vs. dogs", "cats versus dogs."),
        ("cats vs dogs", "cats versus dogs."),
        ("Dr. Smith", "Doctor Smith."),
        ("Mr. Jones", "Mister Jones."),
        ("Mrs. Jones", "Missus Jones."),
        ("Ms. Jones", "Miz Jones."),
        ("Prof. Lee", "Professor Lee."),
        ("St. Louis", "Saint Louis."),
        ("10 Downing St.", "ten Downing Street."),
        ("221 Baker St. is famous", "two hundred twenty-one Baker Street is famous."),
        ("12 Elm Dr.", "twelve Elm Drive."),
        ("approx. 10", "approximately ten."),
        ("No. 5", "number five."),
        ("no. 8", "number eight."),
        ("Fig. 3", "figure three."),
        ("p. 5", "page five."),
        ("Acme Inc. sells", "Acme Incorporated sells."),
        ("the U.S. and", "the U S and."),
        ("the U.S. Then", "the U S. Then."),
        ("a.k.a. Bob", "also known as Bob."),
        ("cf. the", "compare the."),
        ("(incl. tax)", "(including tax)."),
        ("(excl. tax)", "(excluding tax)."),
        ("Martin Jr. said", "Martin Junior said."),
    ]
)
def test_abbreviations_are_expanded(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@_check(
    [
        ("", ""),
        ("   \n\t  ", ""),
        ("...", ""),
        ("()", ""),
        ("Hello", "Hello."),
        ("Hello   there", "Hello there."),
        ("Hello,", "Hello."),
        ("Steps:", "Steps."),
        ("What?!?!", "What?"),
        ("Really!!!", "Really!"),
        ("Hmm.... ok", "Hmm... ok."),
        ("Wait… what", "Wait... what."),
        ("fine,, yes;; no", "fine, yes; no."),
        ("(see above)", "(see above)."),
        ('"Quoted."', '"Quoted."'),
        ("Hello .", "Hello."),
        ("Hello\u00a0there", "Hello there."),
        ("zero\u200bwidth", "zerowidth."),
        ("Tom &amp; Jerry", "Tom and Jerry."),
        ("Line\r\nBreak", "Line. Break."),
    ]
)
def test_whitespace_and_punctuation_are_tidied(text: str, spoken: str) -> None:
    assert make_speakable(text) == spoken


@pytest.mark.parametrize("text", ["On 2026-02-30", "On 13/13/2026", "On Feb 30"])
def test_invalid_dates_are_not_dates(text: str) -> None:
    assert "February" not in make_speakable(text)


def test_decimal_and_abbreviation_dots_are_spelled() -> None:
    spoken = make_speakable("Dr. Smith paid $3.50, e.g. at 5 p.m. on Dec. 4 for 2.5 kg.")
    assert spoken.count(".") == 1


def test_sentence_pieces_are_speakable() -> None:
    answer = (
        "## Plan\n"
        "Here are the steps:\n"
        "1. Buy 2.5 kg of apples for $3.99.\n"
        "2. Meet Dr. Lee at 5 p.m. on 2026-12-04.\n"
        "```bash\necho hi\n```\n"
        "See https://example.com/x for more 🎉"
    )
    spoken = [make_speakable(piece) for piece in split_sentences(answer)]
    assert spoken == [
        "Plan.",
        "Here are the steps.",
        "Buy two point five kilograms of apples for three dollars ninety-nine cents.",
        "Meet Doctor Lee at five p m on December fourth, twenty twenty-six.",
        CODE,
        "See example dot com for more.",
    ]


_MARKUP = "*`#_|<>[]{}~^\\"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    assert isinstance(make_speakable(text), str)


_PIECES = st.sampled_from(
    [
        *"aZ 09.,;:!?-/$€£%°#@&*_`~|<>()[]\n\t'\"…—–→🎉½",
        "e.g.",
        "Dr.",
        "```",
        "http://x.com/a",
        "a@b.com",
        " km",
        "p.m.",
        "1. ",
        "\n\n",
        "    ",
        "2026-12-04",
        "14:30",
        "$5.99",
        "1,234",
        "**",
        "[a](b)",
        "| a |",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_output_is_clean_for_answer_like_text(text: str) -> None:
    spoken = make_speakable(text)
    assert not any(symbol in spoken for symbol in _MARKUP)
    assert spoken == spoken.strip()
    assert "  " not in spoken
    assert spoken == "" or spoken.rstrip("\"')]")[-1] in ".!?"


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_integers_leave_no_digits(number: int) -> None:
    spoken = make_speakable(f"It is {number:,} or {number}.")
    assert not any(ch.isdigit() for ch in spoken)


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_decimals_leave_no_digits(number: float) -> None:
    spoken = make_speakable(f"It is {number:.3f}.")
    assert not any(ch.isdigit() for ch in spoken)
