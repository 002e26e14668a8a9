"""Replace personal data with typed placeholders before text leaves the machine.

Covered: e-mail addresses, IBANs (checked with ISO 7064 mod 97), payment card
numbers (checked with the Luhn algorithm), numbers labelled as bank account,
routing or sort codes, phone numbers and street addresses in common English,
German and French forms. Names, birth dates and free-form addresses are not
detected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

EMAIL = "[EMAIL]"
IBAN = "[IBAN]"
CARD_NUMBER = "[CARD_NUMBER]"
ACCOUNT_NUMBER = "[ACCOUNT_NUMBER]"
PHONE = "[PHONE]"
STREET_ADDRESS = "[STREET_ADDRESS]"

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}")
_CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_ACCOUNT = re.compile(
    r"(?i)\b((?:bank\s+)?(?:account|acct|a/c|konto|routing|sort\s*code|bsb)"
    r"(?:\s*(?:number|no\.?|num|nr\.?|#))?\s*(?:is\s+)?[:#]?\s*)(\d[\d -]{3,22}\d)\b"
)
_PHONE_CANDIDATE = re.compile(r"(?<![\w+(])(?:\+|\b00)?\(?\d[\d ().-]{5,20}\d(?!\w)")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_THOUSANDS = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+")
_LOCAL_PHONE = re.compile(r"\d{3}[-. ]\d{4}")

_STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Square|Sq"
    r"|Parkway|Pkwy|Highway|Hwy|Circle|Close|Crescent|Row|Trail|Alley"
)
_STREET_ADDRESS = re.compile(
    # "221B Baker Street", "1600 Pennsylvania Avenue NW"
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){{0,3}}[A-Z][\w'.-]*\s+(?:{_STREET_SUFFIX})\b\.?"
    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    # "Hauptstraße 12a", "Lindenweg 3"
    r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}\s?[a-zA-Z]?\b"
    # "12 rue de la Paix", "5 bis avenue Foch"
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|place|chemin|allée|impasse|quai)\s+"
    r"(?:(?:de|du|des|la|le|l')\s*)*[A-ZÀ-Ý][\w'-]*"
)


def redact_personal_data(text: str) -> tuple[str, Counter[str]]:
    """Replace personal data in ``text`` with placeholders; return the text and counts per placeholder."""
    counts: Counter[str] = Counter()
    # Longer, checked shapes go first so that a phone number rule never eats a card or an IBAN.
    steps: tuple[Callable[[str, Counter[str]], str], ...] = (
        lambda value, found: _simple(_EMAIL, EMAIL, value, found),
        _replace_ibans,
        _replace_cards,
        _replace_accounts,
        _replace_phones,
        lambda value, found: _simple(_STREET_ADDRESS, STREET_ADDRESS, value, found),
    )
    for step in steps:
        text = step(text, counts)
    return text, counts


def _simple(pattern: re.Pattern[str], placeholder: str, text: str, counts: Counter[str]) -> str:
    text, replaced = pattern.subn(placeholder, text)
    counts[placeholder] += replaced
    return text


def _replace_ibans(text: str, counts: Counter[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        candidate = match.group(0)
        end = _longest_valid_iban(candidate)
        if end == 0:
            return candidate
        counts[IBAN] += 1
        return IBAN + candidate[end:]

    return _IBAN_CANDIDATE.sub(replace, text)


def _longest_valid_iban(candidate: str) -> int:
    """Return the length of the longest prefix of ``candidate`` that is a valid IBAN, or 0."""
    for end in range(len(candidate), 14, -1):
        if candidate[end - 1] == " " or (end < len(candidate) and candidate[end] != " "):
            continue
        compact = candidate[:end].replace(" ", "")
        if 15 <= len(compact) <= 34 and _iban_checksum_ok(compact):
            return end
    return 0


def _iban_checksum_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def _replace_cards(text: str, counts: Counter[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            counts[CARD_NUMBER] += 1
            return CARD_NUMBER
        return match.group(0)

    return _CARD_CANDIDATE.sub(replace, text)


def luhn_ok(digits: str) -> bool:
    """Tell whether a string of digits passes the Luhn check used by payment card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _replace_accounts(text: str, counts: Counter[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        counts[ACCOUNT_NUMBER] += 1
        return match.group(1) + ACCOUNT_NUMBER

    return _ACCOUNT.sub(replace, text)


def _replace_phones(text: str, counts: Counter[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        candidate = match.group(0)
        if not _looks_like_phone(candidate.strip()):
            return candidate
        counts[PHONE] += 1
        return PHONE

    return _PHONE_CANDIDATE.sub(replace, text)


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(char.isdigit() for char in candidate)
    if not 7 <= digits <= 15 or _DATE_LIKE.fullmatch(candidate):
        return False
    international = candidate.startswith(("+", "00"))
    if _THOUSANDS.fullmatch(candidate) and not international:
        return False
    has_area_code = "(" in candidate
    return international or has_area_code or digits >= 10 or _LOCAL_PHONE.fullmatch(candidate) is not None
