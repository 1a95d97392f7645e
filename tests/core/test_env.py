from __future__ import annotations

import stat

import pytest

from townhall.config import env


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("TOWNHALL_SECRET_KEY", raising=False)
    monkeypatch.setenv("TOWNHALL_VAR_DIR", str(tmp_path))
    first = env.secret_key()
    assert len(first) >= 50
    assert env.secret_key() == first
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_configured_secret_key_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNHALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "from-the-environment")
    assert env.secret_key() == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("off", False), ("TRUE", True), ("", True)]
)
def test_booleans(monkeypatch, raw, value):
    monkeypatch.setenv("TOWNHALL_X", raw)
    assert env.get_bool("X", True) is value


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("TOWNHALL_X", "maybe")
    with pytest.raises(env.ConfigError, match="TOWNHALL_X must be a boolean"):
        env.get_bool("X", True)
    monkeypatch.setenv("TOWNHALL_N", "ten")
    with pytest.raises(env.ConfigError, match="TOWNHALL_N must be a whole number"):
        env.get_int("N", 1)
