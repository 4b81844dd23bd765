"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters of
``0-9A-Z`` without I, O, S, V, Z; characters 3-8 are the registering office's
administrative division; the 18th is a check character: with ``C_i`` the value of
character ``i`` (its index in :data:`ALPHABET`) and ``W_i = 3^(i-1) mod 31``, the check
value is ``31 - (sum C_i W_i mod 31)``, 31 written as 0 (docs/CREDIT.md, S10).
"""

from __future__ import annotations

from hallkpi.core.errors import HallkpiError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUE = {c: n for n, c in enumerate(ALPHABET)}


class InvalidTaxpayerId(HallkpiError, ValueError):
    """Not a unified social credit code; the message says which rule it breaks."""


def check_character(first17: str) -> str:
    """The 18th character of a code whose first 17 are ``first17``."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise InvalidTaxpayerId(f"{first17!r}: 17 characters of {ALPHABET} needed")
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """``code`` (upper-cased, stripped) when it is a valid code, else InvalidTaxpayerId."""
    if not isinstance(code, str):
        raise InvalidTaxpayerId(f"{code!r}: a taxpayer id is a string")
    c = code.strip().upper()
    if len(c) != 18:
        raise InvalidTaxpayerId(f"{code!r}: a unified social credit code has 18 characters")
    bad = sorted({ch for ch in c if ch not in _VALUE})
    if bad:
        raise InvalidTaxpayerId(f"{code!r}: characters {bad} are not used (no I, O, S, V, Z)")
    if not c[2:8].isdigit():
        raise InvalidTaxpayerId(f"{code!r}: characters 3-8 are the division code, digits")
    want = check_character(c[:17])
    if c[17] != want:
        raise InvalidTaxpayerId(f"{code!r}: check character is {c[17]!r}, should be {want!r}")
    return c


def division(code: str) -> str:
    """The six-digit administrative division of the registering office (chars 3-8)."""
    return validate(code)[2:8]


def make(prefix17: str) -> str:
    """A valid code from its first 17 characters (test data, samples)."""
    return prefix17 + check_character(prefix17)
