"""Settings: every field has a default; lists and secrets parse from the environment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from datawharf.errors import InvalidInput
from datawharf.settings import Settings


def test_defaults_need_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAWHARF_HOME", str(tmp_path))
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'datawharf.db'}"
    assert settings.warehouse_dir == tmp_path / "warehouse"
    assert settings.allowed_private_hosts == []


def test_allowed_private_hosts_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAWHARF_ALLOWED_PRIVATE_HOSTS", "127.0.0.1:9000, LocalHost:5000")
    assert Settings().allowed_private_hosts == ["127.0.0.1:9000", "localhost:5000"]


def test_generated_key_persists_with_owner_only_mode(tmp_path: Path) -> None:
    first = Settings(home=tmp_path).fernet
    token = first.encrypt(b"s3cr3t")
    assert Settings(home=tmp_path).fernet.decrypt(token) == b"s3cr3t"
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_explore_limits_are_bounded_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default settings keep DuckDB within (4 + 2) x 128MB, and every limit is on."""
    settings = Settings()
    assert (settings.query_memory_limit, settings.query_pool_size, settings.export_pool_size) == (
        "128MB",
        4,
        2,
    )
    assert (settings.export_per_client, settings.send_timeout) == (1, 30.0)
    monkeypatch.setenv("DATAWHARF_QUERY_MEMORY_LIMIT", " 1.5GiB ")
    assert Settings().query_memory_limit == "1.5GiB"


@pytest.mark.parametrize("value", ["", "lots", "128", "-1GB", "12 parsecs"])
def test_a_memory_limit_must_be_a_size(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DATAWHARF_QUERY_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="a size such as 128MB"):
        Settings()


def test_a_shared_database_refuses_a_key_per_home(tmp_path: Path) -> None:
    """Off SQLite, no key is generated into the home folder: the setting is required, and named."""
    settings = Settings(home=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(InvalidInput) as refused:
        settings.fernet  # noqa: B018 - the property is the step under test
    assert refused.value.error_code == "secret_key_required"
    assert "DATAWHARF_SECRET_KEY" in refused.value.message
    assert not (tmp_path / "secret.key").exists()
    key = Fernet.generate_key().decode()
    configured = Settings(home=tmp_path, database_url=settings.database_url, secret_key=key)
    assert configured.fernet.decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert not (tmp_path / "secret.key").exists()
