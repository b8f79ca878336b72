"""Money helpers: Decimal only, ISO 4217 currencies."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypedDict

from .errors import InvalidInput

# Active ISO 4217 codes (those a retailer may price in).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND
    VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())

CENT = Decimal("0.01")
MAX_DIGITS = 14
DECIMAL_PLACES = 2


class MoneyDigits(TypedDict):
    """The digits of a money column or serializer field, spread into it: ``DecimalField(**MONEY)``."""

    max_digits: int
    decimal_places: int


MONEY: Final[MoneyDigits] = {"max_digits": MAX_DIGITS, "decimal_places": DECIMAL_PLACES}


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


MAX_AMOUNT = Decimal("999999999999.99")  # what a DecimalField(max_digits=14, decimal_places=2) holds


def check_amount(
    value: object, *, field_name: str = "amount", positive: bool = False, exact: bool = False
) -> Decimal:
    """A money amount from a caller: a finite Decimal (or int), not negative (above zero with
    ``positive``), within the columns' range; with ``exact``, at most two decimal places (otherwise
    it is rounded to the cent). Returns it quantized."""
    extra = {"field": field_name}
    if isinstance(value, bool) or not isinstance(value, Decimal | int) or not Decimal(value).is_finite():
        raise InvalidInput(f"{field_name} must be a decimal amount.", code="invalid_amount", extra=extra)
    amount = Decimal(value)
    if positive and amount <= 0:
        raise InvalidInput(f"{field_name} must be more than zero.", code="invalid_amount", extra=extra)
    if amount < 0:
        raise InvalidInput(f"{field_name} must not be negative.", code="invalid_amount", extra=extra)
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"{field_name} is too large.", code="invalid_amount", extra=extra)
    if exact and amount != quantize(amount):
        raise InvalidInput(
            f"{field_name} has at most two decimal places.", code="invalid_amount", extra=extra
        )
    return quantize(amount)


def money_text(value: Decimal) -> str:
    """An amount as the API writes it: a string with two decimals (``"1600000.00"``)."""
    return f"{value:.{DECIMAL_PLACES}f}"
