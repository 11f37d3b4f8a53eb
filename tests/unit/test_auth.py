"""Tokens and roles without a server: claims, expiry, rotation, revocation, secrets, roles."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import jwt
import pytest
from pydantic import ValidationError

from dpm.platform import auth
from dpm.platform.config import CommonSettings, load, secret_problem
from dpm.platform.errors import PermissionDenied, Unauthenticated, Unavailable
from dpm.platform.revocations import RevocationList

SECRET = secrets.token_urlsafe(32)
OLD_SECRET = secrets.token_urlsafe(32)


def loaded(*revoked: str, exp: float | None = None) -> RevocationList:
    revocations = RevocationList()
    revocations.replace({jti: exp or time.time() + 3600 for jti in revoked})
    return revocations


# -- claims ----------------------------------------------------------------------------


def test_a_token_carries_iat_exp_a_unique_jti_and_the_kid_of_its_secret() -> None:
    issued = auth.mint(SECRET, auth.Role.LAB, "clients/google")
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["iss"] == "dpmatch"
    assert claims["role"] == "lab"
    assert claims["sub"] == "clients/google"
    assert claims["jti"] == issued.jti
    assert claims["exp"] - claims["iat"] == 90 * 24 * 3600
    assert jwt.get_unverified_header(issued.token)["kid"] == auth.key_id(SECRET)
    assert auth.key_id(SECRET) not in SECRET
    again = auth.mint(SECRET, auth.Role.LAB, "clients/google")
    assert again.jti != issued.jti and again.token != issued.token


@pytest.mark.parametrize(
    ("role", "days"),
    [(auth.Role.LAB, 90), (auth.Role.AUDITOR, 90), (auth.Role.ADMIN, 30), (auth.Role.SERVICE, 1)],
)
def test_default_lifetimes_by_role(role: auth.Role, days: int) -> None:
    issued = auth.mint(SECRET, role, "someone")
    assert issued.expires_at - issued.issued_at == dt.timedelta(days=days)


def test_verify_returns_the_principal() -> None:
    issued = auth.mint(SECRET, auth.Role.AUDITOR, "alice")
    principal = auth.verify_token(SECRET, issued.token)
    assert (principal.role, principal.subject, principal.jti) == (
        auth.Role.AUDITOR,
        "alice",
        issued.jti,
    )
    assert principal.reads_everything and not principal.is_admin


def _legacy(claims: dict[str, object], secret: str = SECRET, kid: bool = True) -> str:
    headers = {"kid": auth.key_id(secret)} if kid else None
    return jwt.encode(claims, secret, "HS256", headers=headers)


NOW = int(time.time())
FULL = {"iss": "dpmatch", "role": "lab", "sub": "clients/google", "iat": NOW, "exp": NOW + 60}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            _legacy({"iss": "dpmatch", "role": "client", "sub": "clients/google"}),
            id="old-format-no-exp-no-jti",
        ),
        pytest.param(_legacy({**FULL}), id="no-jti"),
        pytest.param(_legacy({**FULL, "jti": "x", "role": "client"}), id="retired-role"),
        pytest.param(_legacy({**FULL, "jti": "x", "role": "root"}), id="unknown-role"),
        pytest.param(_legacy({**FULL, "jti": "x", "iss": "someone"}), id="other-issuer"),
        pytest.param(_legacy({**FULL, "jti": "x"}, kid=False), id="no-kid"),
        pytest.param(
            _legacy({k: v for k, v in FULL.items() if k != "exp"} | {"jti": "x"}), id="no-exp"
        ),
        pytest.param(_legacy({**FULL, "jti": "x", "sub": ""}), id="empty-subject"),
        pytest.param(auth.client_token(OLD_SECRET, "clients/google"), id="other-secret"),
        pytest.param(jwt.encode({**FULL, "jti": "x"}, key="", algorithm="none"), id="alg-none"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_malformed_or_foreign_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.verify_token(SECRET, token)


def test_a_token_signed_with_another_secret_under_our_kid_is_refused() -> None:
    forged = jwt.encode(
        {**FULL, "jti": "x"}, OLD_SECRET, "HS256", headers={"kid": auth.key_id(SECRET)}
    )
    with pytest.raises(Unauthenticated):
        auth.verify_token(SECRET, forged)


# -- expiry ----------------------------------------------------------------------------


def test_an_expired_token_is_refused_after_the_leeway() -> None:
    issued = auth.mint(SECRET, auth.Role.LAB, "clients/google", dt.timedelta(seconds=60))
    verifier = auth.Verifier(SECRET, loaded())
    start = issued.issued_at.timestamp()
    verifier.verify(issued.token, now=start + 59)
    verifier.verify(issued.token, now=start + 60 + auth.LEEWAY_SECONDS - 1)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(issued.token, now=start + 60 + auth.LEEWAY_SECONDS)


def test_a_token_from_the_future_is_refused() -> None:
    issued = auth.mint(SECRET, auth.Role.LAB, "clients/google", now=time.time() + 3600)
    with pytest.raises(Unauthenticated):
        auth.verify_token(SECRET, issued.token)


def test_a_cached_token_still_expires() -> None:
    issued = auth.mint(SECRET, auth.Role.LAB, "clients/google", dt.timedelta(seconds=5))
    verifier = auth.Verifier(SECRET, loaded())
    verifier.verify(issued.token)  # now cached
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(issued.token, now=time.time() + 5 + auth.LEEWAY_SECONDS)


# -- revocation ------------------------------------------------------------------------


def test_a_revoked_token_is_refused_even_when_cached() -> None:
    issued = auth.mint(SECRET, auth.Role.LAB, "clients/google")
    other = auth.mint(SECRET, auth.Role.LAB, "clients/google")
    revocations = loaded()
    verifier = auth.Verifier(SECRET, revocations)
    assert verifier.verify(issued.token).jti == issued.jti
    revocations.add([(issued.jti, issued.expires_at.timestamp())])
    with pytest.raises(Unauthenticated, match="revoked"):
        verifier.verify(issued.token)
    assert verifier.verify(other.token).jti == other.jti


def test_no_call_passes_before_the_revocation_list_is_loaded() -> None:
    verifier = auth.Verifier(SECRET, RevocationList())
    with pytest.raises(Unavailable):
        verifier.verify(auth.admin_token(SECRET))


def test_the_revocation_list_drops_what_has_expired_anyway() -> None:
    revocations = RevocationList()
    now = time.time()
    revocations.replace({"old": now - 1, "live": now + 60}, now=now)
    assert not revocations.is_revoked("old") and revocations.is_revoked("live")
    assert len(revocations) == 1


# -- rotation --------------------------------------------------------------------------


def test_rotation_accepts_the_previous_secret_only_while_it_is_listed() -> None:
    old_token = auth.client_token(OLD_SECRET, "clients/google")
    during = auth.TokenKeys(SECRET, (OLD_SECRET,))
    assert auth.verify_token(during, old_token).subject == "clients/google"
    fresh = auth.mint(during, auth.Role.LAB, "clients/google").token
    assert jwt.get_unverified_header(fresh)["kid"] == auth.key_id(SECRET)
    after = auth.TokenKeys(SECRET)
    assert auth.verify_token(after, fresh).subject == "clients/google"
    with pytest.raises(Unauthenticated):
        auth.verify_token(after, old_token)


def test_settings_read_previous_secrets_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    third = secrets.token_urlsafe(32)
    monkeypatch.setenv("DPM_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("DPM_PREVIOUS_TOKEN_SECRETS", f"{OLD_SECRET}, {third}")
    keys = CommonSettings().token_keys()  # type: ignore[call-arg]
    assert keys.current == SECRET and keys.previous == (OLD_SECRET, third)
    assert auth.verify_token(keys, auth.admin_token(third)).role is auth.Role.ADMIN


def test_service_tokens_are_renewed_before_they_expire() -> None:
    tokens = auth.ServiceTokens(SECRET, "matching", lifetime=dt.timedelta(seconds=2))
    first = tokens()
    assert tokens() == first
    assert auth.verify_token(SECRET, first).subject == "service:matching"
    time.sleep(1.1)  # past half its lifetime
    second = tokens()
    assert second != first
    assert auth.verify_token(SECRET, second).role is auth.Role.SERVICE


# -- secrets ---------------------------------------------------------------------------

WEAK_SECRETS = {
    "short": "Zq8-fT2_pL0xNc4",
    "repetitive": "abcabcabcabcabcabcabcabcabcabcabcabc",
    "compose default": "change-me-local-secret-0123456789",
    "k8s placeholder": "REPLACE-ME-with-at-least-16-random-characters",
    "changeme": "ChangeMe_2xQ9vLk3Tq8Zp1Nw7Rb4Yc6Hd0Jf",
    "example": "Example-9xQvLk3Tq8Zp1Nw7Rb4Yc6Hd0Jf",
    "password": "my_PASSWORD_9xQvLk3Tq8Zp1Nw7Rb4Yc6Hd0Jf",
    "secret": "top-Secret-9xQvLk3Tq8Zp1Nw7Rb4Yc6Hd0Jf",
}


@pytest.mark.parametrize("value", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_weak_or_placeholder_secrets_are_refused(value: str) -> None:
    assert secret_problem(value)
    with pytest.raises(ValidationError):
        CommonSettings(token_secret=value)
    with pytest.raises(ValidationError):
        CommonSettings(token_secret=SECRET, previous_token_secrets=f"{OLD_SECRET},{value}")


def test_generated_secrets_are_accepted() -> None:
    for _ in range(50):
        assert secret_problem(secrets.token_urlsafe(32)) is None


def test_a_weak_secret_stops_start_up_with_one_line_that_does_not_quote_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = WEAK_SECRETS["compose default"]
    monkeypatch.setenv("DPM_TOKEN_SECRET", value)
    with pytest.raises(SystemExit) as stopped:
        load(CommonSettings)
    message = str(stopped.value.code)
    assert message.startswith("dpmatch: bad configuration: DPM_TOKEN_SECRET: ")
    assert "placeholder" in message and "\n" not in message
    assert value not in message


def test_a_missing_secret_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DPM_TOKEN_SECRET", raising=False)
    with pytest.raises(SystemExit, match="DPM_TOKEN_SECRET"):
        load(CommonSettings)


# -- who may do what -------------------------------------------------------------------


@contextmanager
def calling_as(role: auth.Role, subject: str) -> Iterator[None]:
    token = auth.set_current_principal(auth.Principal(role, subject))
    try:
        yield
    finally:
        auth.reset_current_principal(token)


ADMIN = (auth.Role.ADMIN, "admin")
AUDITOR = (auth.Role.AUDITOR, "alice")
SERVICE = (auth.Role.SERVICE, "service:matching")
LAB_1 = (auth.Role.LAB, "clients/lab-1")


@pytest.mark.parametrize(
    ("who", "admin", "reader", "read_lab_1", "write_lab_1"),
    [
        (ADMIN, True, True, True, True),
        (AUDITOR, False, True, True, False),
        (SERVICE, False, True, True, False),
        (LAB_1, False, False, True, True),
        ((auth.Role.LAB, "clients/lab-10"), False, False, False, False),
        ((auth.Role.AUDITOR, "clients/lab-1"), False, True, True, False),
    ],
)
def test_roles(
    who: tuple[auth.Role, str], admin: bool, reader: bool, read_lab_1: bool, write_lab_1: bool
) -> None:
    def allowed(check: object, *args: str) -> bool:
        try:
            check(*args)  # type: ignore[operator]
        except PermissionDenied:
            return False
        return True

    with calling_as(*who):
        assert allowed(auth.require_admin) is admin
        assert allowed(auth.require_reader) is reader
        assert allowed(auth.require_client_access, "clients/lab-1") is read_lab_1
        assert allowed(auth.require_client_write, "clients/lab-1") is write_lab_1


@pytest.mark.parametrize(
    ("mine", "other"),
    [
        ("clients/lab-1", "clients/lab-10"),
        ("clients/lab-10", "clients/lab-1"),
        ("clients/google", "clients/google-deepmind"),
        ("clients/google-deepmind", "clients/google"),
        ("clients/google", "clients/Google"),
        ("clients/google", "clients/google "),
        ("clients/google", "clients/google\n"),
        ("clients/google", "clients/google/recommendations"),
        ("clients/google", "clients/googl"),
        ("clients/google", ""),
    ],
)
def test_a_lab_reaches_exactly_its_own_name(mine: str, other: str) -> None:
    with calling_as(auth.Role.LAB, mine):
        auth.require_client_access(mine)
        with pytest.raises(PermissionDenied):
            auth.require_client_access(other)
        with pytest.raises(PermissionDenied):
            auth.require_client_write(other)
