"""Reading Townhall's settings from the environment.

Every setting is an environment variable with the ``TOWNHALL_`` prefix, so a deployment is
configured the same way whether it runs under systemd, a container or ``make demo``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PREFIX = "TOWNHALL_"


class ConfigError(RuntimeError):
    """A setting in the environment has a value Townhall cannot use."""


def get(name: str, default: str | None = None) -> str | None:
    return os.environ.get(PREFIX + name, default)


def get_bool(name: str, default: bool) -> bool:
    raw = get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{PREFIX}{name} must be a boolean (1/0, true/false), not {raw!r}")


def get_int(name: str, default: int) -> int:
    raw = get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, not {raw!r}") from None


def get_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def var_dir() -> Path:
    """The folder for local state (SQLite database, generated secret key): ``./var`` by default."""
    path = Path(get("VAR_DIR") or Path.cwd() / "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key() -> str:
    """``TOWNHALL_SECRET_KEY``, or a key generated once into ``var/secret_key`` (mode 0600).

    Generating the key keeps it out of the repository while letting ``make demo`` work with no
    configuration; every process of one installation reads the same file.
    """
    configured = get("SECRET_KEY")
    if configured:
        return configured
    path = var_dir() / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    # O_EXCL: when two processes start together, one writes and the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
