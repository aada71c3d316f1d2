"""Checks on the real characters of a candidate that a regular expression cannot express.

A detector's pattern describes a shape; these functions look at the actual value, so that checksums
(Luhn, mod-97) and numbering rules (SSN areas, phone lengths) turn "looks like" into "is".
"""

from __future__ import annotations

import base64
import binascii
import re

_NON_DIGITS = re.compile(r"[^0-9]+")


def digits_of(value: str) -> str:
    return _NON_DIGITS.sub("", value)


# The digit sum of twice each digit, as a digit: Luhn doubles every second digit from the right.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    doubled = digits[-2::-2].translate(_LUHN_DOUBLED)
    return (sum(map(int, digits[-1::-2])) + sum(map(int, doubled))) % 10 == 0


# Issuer prefixes in use (Visa 4, Mastercard 2221-2720 and 51-55, Amex 34/37, Diners 30/36/38,
# Discover/UnionPay/Maestro 6, JCB 35): long digit runs that start otherwise (epoch millis, ids) are
# not cards even when the Luhn digit happens to fit, which it does for one number in ten.
_CARD_PREFIXES = (
    "4",
    "51",
    "52",
    "53",
    "54",
    "55",
    "22",
    "23",
    "24",
    "25",
    "26",
    "27",
    "34",
    "37",
    "30",
    "36",
)
_CARD_PREFIXES_MORE = ("38", "35", "6", "50")


def is_payment_card(value: str) -> bool:
    digits = digits_of(value)
    if not 13 <= len(digits) <= 19:
        return False
    if not digits.startswith(_CARD_PREFIXES + _CARD_PREFIXES_MORE):
        return False
    return luhn_ok(digits)


def is_us_ssn(value: str) -> bool:
    digits = digits_of(value)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    # Never issued: area 000, 666 and 900-999 (the latter are ITINs), group 00, serial 0000.
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def is_trunk_phone(value: str) -> bool:
    """National numbers dialled with a leading trunk 0 (UK, DE, FR, IT, NL, AU, ...)."""
    # Up to 15 so that a number followed by a stray group ("... 0958 24") is still caught whole.
    return 10 <= len(digits_of(value)) <= 15


def is_international_phone(value: str) -> bool:
    digits = digits_of(value)
    # Shorter than 8 is a score or an offset ("+5", "+05:30"). E.164 stops at 15; the slack lets a
    # number followed by a stray group still be caught whole.
    return 8 <= len(digits) <= 20


def iban_ok(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


def has_digit_and_letter(value: str) -> bool:
    """Random keys virtually always mix both; hyphenated words that share a key's prefix do not."""
    return _DIGIT.search(value) is not None and _LETTER.search(value) is not None


def looks_like_token(value: str) -> bool:
    """A bearer credential, as opposed to an English word that follows "Bearer" in prose."""
    if _DIGIT.search(value):
        return True
    return len(value) >= 20 and _UPPER.search(value) is not None and _LOWER.search(value) is not None


def is_basic_credentials(value: str) -> bool:
    """`Basic` auth carries base64 of ``user:password``; prose after the word "Basic" does not decode so."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded and all(32 <= byte < 127 for byte in decoded)


# File extensions that are not (popular) top-level domains: ``icon@2x.png`` is an asset, not an address.
_FILE_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "css", "js", "mjs", "ts", "tsx", "jsx"}
    | {"json", "yaml", "yml", "toml", "txt", "html", "htm", "lock"}
)


def is_email(value: str) -> bool:
    return value.rsplit(".", 1)[-1].lower() not in _FILE_SUFFIXES
