"""Currencies and amounts: integer minor units, Babel for currency data and locale formatting.

No float ever holds an amount: amounts are parsed with ``Decimal`` and stored as integers of the
currency's minor unit (``exponent`` digits, from Babel/CLDR: 2 for USD, 0 for JPY, 3 for BHD).
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, list_currencies

from townhall.core.errors import BadRequest

DEFAULT_LOCALE = "en"
MAX_MINOR_UNITS = 10**15


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def clean_currency(code: str, *, field: str = "currency") -> str:
    """An ISO 4217 code Babel knows, upper case; BadRequest ``invalid_currency`` otherwise."""
    currency = (code or "").strip().upper()
    if currency not in _currencies():
        raise BadRequest(
            f"{code!r} is not an ISO 4217 currency code.", code="invalid_currency", field=field
        )
    return currency


def exponent(currency: str) -> int:
    """The number of minor-unit digits of ``currency`` (2 for USD, 0 for JPY)."""
    return get_currency_precision(currency)


def parse_amount(text: str, currency: str) -> int:
    """ "25.00" (a decimal string in major units) → 2500 minor units of ``currency``.

    ValueError with the reason for anything else: not a number, not positive, or more decimals
    than the currency has.
    """
    raw = (text or "").strip()
    if not raw or any(char in raw for char in "eE_ "):
        raise ValueError(f"{raw!r} is not an amount")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not an amount")
    digits = exponent(currency)
    written = -int(value.as_tuple().exponent)
    if written > digits:
        raise ValueError(f"{raw!r} has more than {digits} decimals for {currency}")
    minor = value.scaleb(digits)
    if minor <= 0:
        raise ValueError(f"{raw!r} is not a positive amount")
    if minor > MAX_MINOR_UNITS:
        raise ValueError(f"{raw!r} is too large")
    return int(minor)


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))


def locale_for(tag: str | None) -> Locale:
    """The Babel locale of a language tag (``en``, ``de-DE``, ``pt_BR``); English when Babel
    does not know it, so a widget passing the browser's language always gets a bar."""
    if tag:
        for sep in ("-", "_"):
            try:
                return Locale.parse(tag.strip(), sep=sep)
            except (UnknownLocaleError, ValueError, TypeError):
                continue
    return Locale.parse(DEFAULT_LOCALE)


def format_money(amount: int, currency: str, locale: Locale, pattern: str | None = None) -> str:
    """``amount`` minor units as the locale writes money: "$3,048" in English, "3.048 $" in
    German; whole amounts without their ".00". ``pattern`` (a CLDR number pattern such as
    ``"#,##0 ¤"``) overrides the locale's placement of the symbol.
    """
    value = to_major(amount, currency)
    whole = value == value.to_integral_value()
    if pattern is not None:
        return format_currency(
            value, currency, pattern, locale=locale, currency_digits=whole is False
        )
    standard = locale.currency_formats["standard"]
    if whole:
        standard = copy.copy(standard)
        standard.frac_prec = (0, 0)
        return standard.apply(value, locale, currency=currency, currency_digits=False)
    return format_currency(value, currency, locale=locale)
