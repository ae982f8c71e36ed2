"""Password hashes for the app's optional access control, and the scoring API's keys (standard library only).

A configured password is always a hash made by :func:`hash_password` (``python -m core
hash-password``), never the password itself: ``scrypt:N:R:P:SALT:DIGEST`` with the salt and digest
in unpadded URL-safe base64, so the value needs no quoting in a shell, an env file or TOML.

An API key is random and long (:func:`new_api_key`, ``python -m core api-key``), so a plain
SHA-256 of it, compared in constant time, is enough: no slow password hash on every request. The
service is configured with the hashes (``sha256:HEX``) in ``SIFT_API_KEYS`` or ``api_keys`` of
``.streamlit/secrets.toml``, never with the keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import AccessSetupError

SCHEME = "scrypt"
# scrypt's cost: 16 MiB and about a tenth of a second per check on this machine kind
COST, BLOCK_SIZE, PARALLEL = 2**14, 8, 1
SALT_BYTES, DIGEST_BYTES = 16, 32
_MAX_MEMORY = 64 * 1024 * 1024  # refuse hashes whose parameters would need more than this to check
HOW_TO_HASH = (
    "Make a hash with `python -m core hash-password` (in Docker: `docker run --rm -it sift python -m core "
    "hash-password`) and configure the printed value instead."
)


@dataclass(frozen=True, repr=False)
class PasswordHash:
    """A parsed password hash; ``text`` is the configured string it came from."""

    text: str
    cost: int
    block_size: int
    parallel: int
    salt: bytes
    digest: bytes

    def matches(self, password: str) -> bool:
        candidate = _scrypt(password, self.salt, self.cost, self.block_size, self.parallel, len(self.digest))
        return hmac.compare_digest(candidate, self.digest)


def hash_password(password: str) -> str:
    """A new salted hash of ``password``, in the form :func:`parse_hash` reads."""
    if not password:
        raise AccessSetupError("The password is empty: give one with at least one character.")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, COST, BLOCK_SIZE, PARALLEL, DIGEST_BYTES)
    return ":".join((SCHEME, str(COST), str(BLOCK_SIZE), str(PARALLEL), _b64(salt), _b64(digest)))


def parse_hash(text: str, *, setting: str) -> PasswordHash:
    """Read a configured hash; anything else (a plain password above all) is refused, naming ``setting``.

    The message never repeats the configured value.
    """
    parts = text.strip().split(":")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise AccessSetupError(
            f"{setting} is set but is not a password hash made by Sift; plain passwords are never accepted. "
            + HOW_TO_HASH
        )
    try:
        cost, block_size, parallel = (int(p) for p in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        raise AccessSetupError(f"{setting} looks like a Sift hash but is damaged. " + HOW_TO_HASH) from None
    usable = (
        cost > 1
        and cost & (cost - 1) == 0
        and block_size >= 1
        and parallel >= 1
        and 128 * cost * block_size * parallel <= _MAX_MEMORY
        and len(salt) >= 8
        and len(digest) >= 16
    )
    if not usable:
        raise AccessSetupError(f"{setting} holds a hash with parameters Sift does not accept. " + HOW_TO_HASH)
    return PasswordHash(text.strip(), cost, block_size, parallel, salt, digest)


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` is the one ``hashed`` was made from (constant-time comparison)."""
    return parse_hash(hashed, setting="the hash").matches(password)


def _scrypt(password: str, salt: bytes, cost: int, block_size: int, parallel: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=cost, r=block_size, p=parallel, maxmem=_MAX_MEMORY + 2**20, dklen=length
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


# --- the scoring API's keys ---------------------------------------------------------------------

API_KEY_SCHEME = "sha256"
API_KEY_PREFIX = "sift_"
HOW_TO_KEY = "Make a key with `python -m core api-key` and configure the printed hash, never the key."
SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


def new_api_key() -> dict[str, str]:
    """A new random key (shown once) and the hash to configure for it."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return {"key": key, "hash": api_key_hash(key)}


def api_key_hash(key: str) -> str:
    return f"{API_KEY_SCHEME}:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


def parse_api_key_hashes(text: str | list[str], *, setting: str) -> list[bytes]:
    """The digests of a configured list of key hashes (commas or spaces between them).

    Anything that is not a ``sha256:HEX`` hash (a key pasted by mistake above all) is refused,
    naming ``setting`` and never repeating the value.
    """
    items = text if isinstance(text, list) else text.replace(",", " ").split()
    digests = []
    for item in (str(i).strip() for i in items):
        scheme, _, hexdigest = item.partition(":")
        try:
            digest = bytes.fromhex(hexdigest)
        except ValueError:
            digest = b""
        if scheme != API_KEY_SCHEME or len(digest) != hashlib.sha256().digest_size:
            raise AccessSetupError(f"{setting} holds a value that is not an API key hash made by Sift. " + HOW_TO_KEY)
        digests.append(digest)
    return digests


def secret_value(key: str, files: tuple[Path, ...] = SECRETS_FILES) -> tuple[object, str] | None:
    """``key`` of the first secrets file that has it, with where it came from; None if none has.

    A file that is not TOML is refused naming the file, never repeating its content."""
    for path in files:
        if not path.is_file():
            continue
        try:
            found = tomllib.loads(path.read_text(encoding="utf-8")).get(key)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AccessSetupError(f"{path} cannot be read as TOML ({exc}); fix it or remove it.") from exc
        if found:
            return found, f"{key} in {path}"
    return None


def secret_api_keys(files: tuple[Path, ...] = SECRETS_FILES) -> tuple[str | list[str], str] | None:
    """``api_keys`` of the first secrets file that has it, with where it came from; None if none has."""
    return secret_value("api_keys", files)  # type: ignore[return-value]


def secret_alert_webhook(files: tuple[Path, ...] = SECRETS_FILES) -> tuple[str, str] | None:
    """``alert_webhook`` (the default alert destination, a secret) of the first secrets file that has it,
    with where it came from; None if none has."""
    found = secret_value("alert_webhook", files)
    return (str(found[0]), found[1]) if found else None


def api_key_matches(key: str, digests: list[bytes]) -> bool:
    """Whether ``key`` is one of the configured keys (every digest compared, each in constant time)."""
    candidate = hashlib.sha256(key.encode("utf-8")).digest()
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest)
    return found
