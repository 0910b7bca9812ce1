"""Offerwall postbacks, the pure half: each network's signature and how to read its parameters.

No I/O here. ``read(network, request, secret)`` checks the signature of one postback as the
network sent it and returns what it says (a ``Completion``), or raises ``PostbackRefused``
with a reason. Signatures (from each network's publisher documentation):

==========  ================================================================================
cpx         ``hash`` = md5(trans_id + "-" + secret); ``status`` 1 credit, 2 reversal
bitlabs     ``hash`` (always last) = hex HMAC-SHA1(secret, the full URL as received, up to
            "&hash="); reconciliation sends a negative ``val``
lootably    ``hash`` = sha256(user_id + ip_address + payout + reward + secret); ``status`` 1
            credit, 0 reversal
torox       ``sig`` = md5(oid + "-" + user_id + "-" + secret); a negative ``amount`` is a
            chargeback
ayet        header ``X-Ayetstudios-Security-Hash`` = hex HMAC-SHA256(secret, PHP
            http_build_query of the key-sorted parameters, RFC 1738); ``is_chargeback``
notik       ``hash`` (last) = hex HMAC-SHA1(secret, the full URL as received minus
            "&hash=..."); a negative ``amount`` is a chargeback
timewall    ``hash`` = sha256(user_id + revenue + secret); a negative ``reward`` is a reversal
==========  ================================================================================

Every comparison is constant time (``hmac.compare_digest``). URL-signed schemes are checked
against the URL the network called: the caller passes the public base (``PUBLIC_URL``) and the
raw path and query exactly as they arrived, never a URL rebuilt from parsed parameters.

Reward units are decimal text ("12.5"); ``units_scaled`` keeps them as an integer of
``UNIT_SCALE`` (1e-8) steps, so amounts are integer arithmetic (``amount_for``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus

from core.errors import DomainError

NETWORKS: tuple[str, ...] = ("cpx", "bitlabs", "lootably", "torox", "ayet", "notik", "timewall")
UNIT_DECIMALS = 8
UNIT_SCALE = 10**UNIT_DECIMALS
RATE_DECIMALS = 8  # beyond the asset's own decimals: a rate may be a fraction of a minor unit
MAX_UNITS = 10**9  # reward units one postback may carry; more is "huge" and refused
MAX_TXID = 100
MAX_SUB = 64
AYET_HEADER = "X-Ayetstudios-Security-Hash"

_NUMBER = re.compile(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,8}))?", re.ASCII)
_HEX = re.compile(r"[0-9a-fA-F]{32,128}", re.ASCII)


class PostbackRefused(DomainError):
    """reasons: bad_signature, missing_field, bad_amount, malformed"""


@dataclass(frozen=True, slots=True)
class Request:
    """One postback as it arrived: ``url`` is the public base plus the raw path and query."""

    url: str
    query: Sequence[tuple[str, str]]
    form: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] | None = None

    def params(self) -> dict[str, str]:
        """Query and form parameters; a name repeated (or in both) is malformed."""
        seen: dict[str, str] = {}
        for name, value in (*self.query, *self.form):
            if name in seen:
                raise PostbackRefused("malformed", why="repeated parameter")
            seen[name] = value
        return seen


@dataclass(frozen=True, slots=True)
class Completion:
    """What a valid postback says: a credit or a reversal of ``units_scaled`` reward units."""

    network: str
    txid: str
    sub_id: str
    units_scaled: int  # > 0, in 1e-8 reward units
    reversal: bool
    # The signature, for networks whose signature does not cover the transaction id
    # (lootably, torox, timewall): a second credit with the same proof is a replay with the
    # unsigned id changed, and is refused.
    proof: str | None = None


# --- signatures: pure functions of the documented inputs ------------------------------


def _hex(algo: str, text: str) -> str:
    return hashlib.new(algo, text.encode()).hexdigest()


def cpx_hash(trans_id: str, secret: str) -> str:
    return _hex("md5", f"{trans_id}-{secret}")


def url_hmac_sha1(url_before_hash: str, secret: str) -> str:
    """BitLabs and Notik: hex HMAC-SHA1 of the URL as sent, without "&hash=..."."""
    return hmac.new(secret.encode(), url_before_hash.encode(), hashlib.sha1).hexdigest()


def lootably_hash(user_id: str, ip_address: str, payout: str, reward: str, secret: str) -> str:
    return _hex("sha256", f"{user_id}{ip_address}{payout}{reward}{secret}")


def torox_sig(oid: str, user_id: str, secret: str) -> str:
    return _hex("md5", f"{oid}-{user_id}-{secret}")


def timewall_hash(user_id: str, revenue: str, secret: str) -> str:
    return _hex("sha256", f"{user_id}{revenue}{secret}")


def php_urlencode(text: str) -> str:
    """PHP's urlencode (RFC 1738): space is "+", everything but A-Za-z0-9 - _ . is %XX,
    so "~" is "%7E" (Python's quote_plus leaves it alone)."""
    return quote_plus(text, safe="").replace("~", "%7E")


def php_build_query(params: Sequence[tuple[str, str]]) -> str:
    """PHP ``http_build_query`` of ``ksort($params, SORT_STRING)``: keys in byte order."""
    ordered = sorted(params, key=lambda kv: kv[0].encode())
    return "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in ordered)


def ayet_hash(params: Sequence[tuple[str, str]], secret: str) -> str:
    return hmac.new(secret.encode(), php_build_query(params).encode(), hashlib.sha256).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    if not given or not _HEX.fullmatch(given):
        return False
    return hmac.compare_digest(expected.lower().encode(), given.lower().encode())


def split_signed_url(url: str) -> tuple[str, str | None]:
    """(URL up to "&hash=", the hash) for schemes whose hash is the URL's last parameter."""
    head, sep, tail = url.rpartition("&hash=")
    if not sep or "&" in tail or "#" in tail:
        return url, None
    return head, tail


# --- reading ------------------------------------------------------------------------


def parse_units(text: str | None) -> tuple[int, bool]:
    """ "12.5" -> (1250000000, False); "-3" -> (300000000, True). ASCII decimal only."""
    m = _NUMBER.fullmatch((text or "").strip())
    if m is None:
        raise PostbackRefused("bad_amount")
    scaled = int(m[2]) * UNIT_SCALE + int((m[3] or "").ljust(UNIT_DECIMALS, "0"))
    if scaled == 0 or scaled > MAX_UNITS * UNIT_SCALE:
        raise PostbackRefused("bad_amount")
    return scaled, m[1] == "-"


def amount_for(units_scaled: int, rate_scaled: int, asset_decimals: int) -> int:
    """Minor units for ``units_scaled`` (1e-8 reward units) at ``rate_scaled`` (1e-(decimals+8)
    asset units per reward unit), rounded down."""
    del asset_decimals  # rate_scaled is in minor units x 10^RATE_DECIMALS already
    return units_scaled * rate_scaled // (UNIT_SCALE * 10**RATE_DECIMALS)


def parse_rate(text: str, asset_decimals: int) -> int:
    """ "0.00001" -> the rate as an integer of 10^-(asset_decimals + RATE_DECIMALS) units; > 0."""
    m = re.fullmatch(r"([0-9]{1,12})(?:[.,]([0-9]+))?", (text or "").strip(), re.ASCII)
    places = asset_decimals + RATE_DECIMALS
    if m is None or len(m[2] or "") > places:
        raise PostbackRefused("bad_amount")
    value = int(m[1]) * 10**places + int((m[2] or "").ljust(places, "0"))
    if value <= 0:
        raise PostbackRefused("bad_amount")
    return value


def format_rate(rate_scaled: int, asset_decimals: int) -> str:
    places = asset_decimals + RATE_DECIMALS
    whole, frac = divmod(rate_scaled, 10**places)
    text = f"{frac:0{places}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def _need(p: Mapping[str, str], *names: str) -> list[str]:
    got = [p.get(n) for n in names]
    if any(v is None or v == "" for v in got):
        raise PostbackRefused("missing_field")
    return [v for v in got if v is not None]


def _ids(
    network: str, txid: str, sub: str, units: str, reversal_flag: bool | None, proof: str | None = None
) -> Completion:
    if len(txid) > MAX_TXID or len(sub) > MAX_SUB or not txid.isprintable() or not sub.isprintable():
        raise PostbackRefused("malformed", why="id too long")
    scaled, negative = parse_units(units)
    if reversal_flag is None:  # the sign says it
        reversal = negative
    else:
        if negative:  # a reversal is said by its flag; a negative credit is nonsense
            raise PostbackRefused("bad_amount")
        reversal = reversal_flag
    return Completion(network, txid, sub, scaled, reversal, proof.lower() if proof else None)


def read(network: str, request: Request, secret: str) -> Completion:
    """Check the postback's signature with ``secret`` and read it; raises PostbackRefused."""
    p = request.params()
    if network == "cpx":
        status, trans_id, user_id, amount, given = _need(
            p, "status", "trans_id", "user_id", "amount_local", "hash"
        )
        if not _same(cpx_hash(trans_id, secret), given):
            raise PostbackRefused("bad_signature")
        if status not in ("1", "2"):
            raise PostbackRefused("malformed", why="status")
        return _ids(network, trans_id, user_id, amount, status == "2")
    if network in ("bitlabs", "notik"):
        signed, given = split_signed_url(request.url)
        if given is None or not _same(url_hmac_sha1(signed, secret), given):
            raise PostbackRefused("bad_signature")
        if network == "bitlabs":
            uid, tx, val = _need(p, "uid", "tx", "val")
            return _ids(network, tx, uid, val, None)
        user_id, txn_id, amount = _need(p, "user_id", "txn_id", "amount")
        return _ids(network, txn_id, user_id, amount, None)
    if network == "lootably":
        user_id, tx, ip, payout, reward, status, given = _need(
            p, "user_id", "transaction", "ip_address", "payout", "reward", "status", "hash"
        )
        if not _same(lootably_hash(user_id, ip, payout, reward, secret), given):
            raise PostbackRefused("bad_signature")
        if status not in ("0", "1"):
            raise PostbackRefused("malformed", why="status")
        return _ids(network, tx, user_id, reward, status == "0", given)
    if network == "torox":
        oid, user_id, conv_id, amount, given = _need(p, "oid", "user_id", "id", "amount", "sig")
        if not _same(torox_sig(oid, user_id, secret), given):
            raise PostbackRefused("bad_signature")
        return _ids(network, conv_id, user_id, amount, None, given)
    if network == "ayet":
        headers = request.headers or {}
        given = next((v for k, v in headers.items() if k.lower() == AYET_HEADER.lower()), None)
        if not _same(ayet_hash([*request.query, *request.form], secret), given):
            raise PostbackRefused("bad_signature")
        tx, ext, amount = _need(p, "transaction_id", "external_identifier", "currency_amount")
        flag = p.get("is_chargeback", "0")
        if flag not in ("0", "1"):
            raise PostbackRefused("malformed", why="is_chargeback")
        return _ids(network, tx, ext, amount.lstrip("-") if flag == "1" else amount, flag == "1")
    if network == "timewall":
        user_id, tx, reward, revenue, given = _need(p, "user_id", "transaction", "reward", "revenue", "hash")
        if not _same(timewall_hash(user_id, revenue, secret), given):
            raise PostbackRefused("bad_signature")
        return _ids(network, tx, user_id, reward, None, given)
    raise PostbackRefused("malformed", why="network")


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query string's pairs as PHP reads them (``+`` is a space); strict about encoding."""
    try:
        return parse_qsl(raw_query, keep_blank_values=True, strict_parsing=bool(raw_query), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise PostbackRefused("malformed", why="query") from None


# What each network expects as the answer to a postback we took (HTTP 200 and this body).
SUCCESS_BODY: dict[str, str] = {
    "cpx": "1",
    "bitlabs": "OK",
    "lootably": "1",
    "torox": "1",
    "ayet": "OK",
    "notik": "1",
    "timewall": "1",
}


def wall_url(network: str, app_id: str, sub_id: str) -> str:
    """Where the user opens the wall, with their sub id in the network's user parameter."""
    a, s = quote_plus(app_id, safe=""), quote_plus(sub_id, safe="")
    if network == "cpx":
        return f"https://offers.cpx-research.com/index.php?app_id={a}&ext_user_id={s}"
    if network == "bitlabs":
        return f"https://web.bitlabs.ai/?token={a}&uid={s}"
    if network == "lootably":
        return f"https://wall.lootably.com/?placementID={a}&sid={s}"
    if network == "torox":
        pub, _, app = app_id.partition("/")
        tail = f"/{quote_plus(app, safe='')}" if app else ""
        return f"https://torox.io/ifr/show/{quote_plus(pub, safe='')}/{s}{tail}"
    if network == "ayet":
        return f"https://www.ayetstudios.com/offers/web_offerwall/{a}?external_identifier={s}"
    if network == "notik":
        return f"https://notik.me/coins?app_id={a}&user_id={s}"
    if network == "timewall":
        return f"https://timewall.io/users/login?oid={a}&uid={s}"
    raise ValueError(network)
