"""The rules for a user's e-mail address and password, at ``add user`` (CLI) and POST/PATCH
users (API) alike: a valid address (``email-validator``: syntax only, no DNS look-ups) and a
password of at least :data:`MIN_PASSWORD_LENGTH` characters (and bcrypt's 72 bytes at most)."""

from __future__ import annotations

import secrets

from email_validator import EmailNotValidError, validate_email

from flex_pipelines.errors import FlexPipelinesError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit


class CredentialError(FlexPipelinesError):
    """An e-mail address or password that breaks the rules (HTTP 422, CLI exit 2)."""


def valid_email(email: str) -> str:
    """The normalised address in lower case (logins ignore case), or :class:`CredentialError`
    saying what is wrong with it."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise CredentialError(f"{email!r} is not a valid e-mail address: {exc}") from exc


def check_password_rules(password: str) -> None:
    """Refuse passwords shorter than the minimum or longer than bcrypt can hash."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CredentialError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are needed"  # noqa: E501
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise CredentialError(
            f"the password is {len(password.encode())} bytes long; at most {MAX_PASSWORD_BYTES}"
        )


def random_password() -> str:
    """An unguessable password nobody knows (a new user without one, a password reset)."""
    return secrets.token_urlsafe(32)
