"""TOTP steps against RFC 6238 Appendix B, replay and drift rules, secrets at rest, backup codes."""

from __future__ import annotations

import base64
import pickle

import pyotp
import pytest

from core.errors import DomainError
from core.identity.totp import (
    BACKUP_ALPHABET,
    SecretBox,
    UndecryptableSecret,
    backup_pepper,
    check_backup_code,
    hash_backup_code,
    match_step,
    new_backup_codes,
    new_secret,
    normalise_backup_code,
    normalise_code,
    provisioning_uri,
    qr_png,
)

# RFC 6238 Appendix B, SHA-1 column: the seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, 0x0000001, "94287082"),
    (1111111109, 0x23523EC, "07081804"),
    (1111111111, 0x23523ED, "14050471"),
    (1234567890, 0x273EF07, "89005924"),
    (2000000000, 0x3F940AA, "69279037"),
    (20000000000, 0x27BC86AA, "65353130"),
]
KEY = "a-test-secret-key-that-is-long-enough-0123456789"


@pytest.mark.parametrize(("now", "step", "code8"), RFC_VECTORS)
def test_rfc6238_vectors(now, step, code8):
    assert pyotp.TOTP(RFC_SECRET, digits=8).at(now) == code8
    # A 6-digit code is the same truncated value mod 10**6: the last six of the 8-digit one.
    assert match_step(RFC_SECRET, code8[-6:], now, None) == step == now // 30
    assert match_step(RFC_SECRET, code8[-6:], now, step) is None  # replay


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * 30)


NOW = 1_700_000_015  # mid-step
STEP = NOW // 30


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_drift_window(offset, accepted):
    secret = RFC_SECRET
    got = match_step(secret, code_at(secret, STEP + offset), NOW, None)
    assert got == (STEP + offset if accepted else None)


def test_drift_zero_and_two():
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, STEP - 1), NOW, None, drift=0) is None
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, STEP - 2), NOW, None, drift=2) == STEP - 2


@pytest.mark.parametrize(
    ("code_step", "last_used", "expected"),
    [
        (STEP, STEP, None),  # the same code twice
        (STEP - 1, STEP, None),  # an older code after a newer one was used
        (STEP - 1, STEP - 1, None),
        (STEP, STEP - 1, STEP),  # the next step is fine
        (STEP + 1, STEP, STEP + 1),
        (STEP, None, STEP),
    ],
)
def test_replay_is_refused(code_step, last_used, expected):
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, code_step), NOW, last_used) == expected


def test_float_now_and_step_edges():
    code = code_at(RFC_SECRET, STEP)
    assert match_step(RFC_SECRET, code, float(NOW) + 0.9, None) == STEP
    assert match_step(RFC_SECRET, code, STEP * 30, None) == STEP
    assert match_step(RFC_SECRET, code, STEP * 30 + 29, None) == STEP


@pytest.mark.parametrize(
    "typed",
    ["{c}", " {c} ", "{a} {b}", "{a}\u00a0{b}", "\t{c}\n"],
)
def test_spaces_are_ignored(typed):
    code = code_at(RFC_SECRET, STEP)
    text = typed.format(c=code, a=code[:3], b=code[3:])
    assert match_step(RFC_SECRET, text, NOW, None) == STEP


def to_script(code: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in code)


@pytest.mark.parametrize(
    "transform",
    [
        lambda c: to_script(c, 0x0660),  # Arabic-Indic digits
        lambda c: to_script(c, 0xFF10),  # full-width digits
        lambda c: to_script(c, 0x0966),  # Devanagari digits
        lambda c: c[:5] + "\u00b2",  # superscript two: isdigit() but not a digit here
        lambda c: c[:5],
        lambda c: c + "0",
        lambda c: c[:3] + "-" + c[3:],
        lambda c: c[:5] + "a",
        lambda c: "+" + c[1:],
        lambda c: "",
        lambda c: c * 10,
    ],
)
def test_malformed_codes_are_refused(transform):
    code = code_at(RFC_SECRET, STEP)
    typed = transform(code)
    assert normalise_code(typed) is None
    assert match_step(RFC_SECRET, typed, NOW, None) is None


def test_wrong_code_and_non_string():
    code = code_at(RFC_SECRET, STEP)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    others = {code_at(RFC_SECRET, STEP + d) for d in (-1, 0, 1)}
    if wrong not in others:
        assert match_step(RFC_SECRET, wrong, NOW, None) is None
    assert match_step(RFC_SECRET, None, NOW, None) is None  # type: ignore[arg-type]


def test_new_secret_and_uri():
    secret = new_secret()
    assert len(secret) == 32 and len(base64.b32decode(secret)) == 20
    assert secret != new_secret()
    uri = provisioning_uri(secret, "alice@dustpan")
    assert uri.startswith("otpauth://totp/Dustpan:alice%40dustpan?")
    assert f"secret={secret}" in uri and "issuer=Dustpan" in uri
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.interval == 30 and parsed.digits == 6
    assert match_step(secret, parsed.at(NOW), NOW, None) == STEP


def test_qr_png():
    png = qr_png(provisioning_uri(new_secret(), "bob"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"IHDR" in png[:32] and png.endswith(b"IEND\xaeB`\x82")
    width = int.from_bytes(png[16:20], "big")
    assert width >= 6 * (25 + 8)  # at least version 2 at scale 6 with the quiet zone
    assert len(png) > 200


# --- SecretBox ---------------------------------------------------------------------------------


def test_secretbox_round_trip():
    box = SecretBox(KEY)
    secret = new_secret()
    token = box.encrypt(secret)
    assert secret not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert box.decrypt(token) == secret
    assert SecretBox(KEY).decrypt(token) == secret  # same key, new object
    assert box.encrypt(secret) != token  # fresh nonce every time
    assert box.decrypt(box.encrypt("")) == ""
    assert box.decrypt(box.encrypt("ünïcødé ✓")) == "ünïcødé ✓"


def test_secretbox_token_layout():
    token = SecretBox(KEY).encrypt("x" * 32)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert raw[0] == 1 and len(raw) == 1 + 12 + 32 + 16


def flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_every_flipped_bit_is_refused():
    box = SecretBox(KEY)
    token = box.encrypt(new_secret())
    size = len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(size):
        with pytest.raises(UndecryptableSecret):
            box.decrypt(flip(token, index))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t[:20],
        lambda t: t + "A",
        lambda t: t + "==",
        lambda t: t.replace(t[5], "+" if t[5] != "+" else "/", 1),
        lambda t: " " + t,
        lambda t: "",
        lambda t: "!!!!",
        lambda t: (
            base64.urlsafe_b64encode(b"\x02" + base64.urlsafe_b64decode(t + "==")[1:]).decode().rstrip("=")
        ),
    ],
)
def test_mangled_tokens_are_refused(mangle):
    box = SecretBox(KEY)
    with pytest.raises(UndecryptableSecret) as info:
        box.decrypt(mangle(box.encrypt(new_secret())))
    assert isinstance(info.value, DomainError) and info.value.reason == "undecryptable_secret"


def test_other_key_cannot_decrypt():
    token = SecretBox(KEY).encrypt("JBSWY3DPEHPK3PXP")
    with pytest.raises(UndecryptableSecret):
        SecretBox(KEY + "!").decrypt(token)


def test_associated_data_binds_the_token_to_its_row():
    box = SecretBox(KEY)
    token = box.encrypt("JBSWY3DPEHPK3PXP", aad="totp:42")
    assert box.decrypt(token, aad="totp:42") == "JBSWY3DPEHPK3PXP"
    for other in ("", "totp:43", "totp:4"):
        with pytest.raises(UndecryptableSecret):
            box.decrypt(token, aad=other)


def test_secretbox_hides_its_key():
    box = SecretBox(KEY)
    assert KEY not in repr(box) and "redacted" in repr(box)
    assert not hasattr(box, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(box)
    with pytest.raises(ValueError):
        SecretBox("")


# --- Backup codes ------------------------------------------------------------------------------


def test_backup_codes_shape_and_uniqueness():
    codes = new_backup_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert set(code.replace("-", "")) <= set(BACKUP_ALPHABET)
    assert not set("01ilo") & set(BACKUP_ALPHABET)
    many = [c for _ in range(20) for c in new_backup_codes(50)]
    assert len(set(many)) == len(many)


def test_backup_hash_and_check_round_trip():
    pepper = backup_pepper(KEY)
    codes = new_backup_codes()
    stored = [hash_backup_code(c, pepper) for c in codes]
    assert len(set(stored)) == 10 and all(len(h) == 64 for h in stored)
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    for code, digest in zip(codes, stored, strict=True):
        assert check_backup_code(code, stored, pepper) == digest
        typed = " " + code.upper().replace("-", " ") + " "
        assert check_backup_code(typed, stored, pepper) == digest
        assert check_backup_code(code.replace("-", ""), stored, pepper) == digest


@pytest.mark.parametrize("typed", ["", "abcde", "abcde-fghjk-m", "abcde-fghj0", "abcde-fghjl", None])
def test_malformed_backup_codes(typed):
    pepper = backup_pepper(KEY)
    stored = [hash_backup_code(c, pepper) for c in new_backup_codes()]
    assert normalise_backup_code(typed) is None
    assert check_backup_code(typed, stored, pepper) is None
    with pytest.raises(ValueError):
        hash_backup_code(typed, pepper)


def test_backup_codes_depend_on_the_pepper():
    code = new_backup_codes(1)[0]
    stored = [hash_backup_code(code, backup_pepper(KEY))]
    assert check_backup_code(code, stored, backup_pepper(KEY + "!")) is None
    assert backup_pepper(KEY) != backup_pepper(KEY + "!")
