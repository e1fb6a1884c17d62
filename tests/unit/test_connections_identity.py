"""datawharf's own credential chain asks a metadata service only when DATAWHARF_AWS_INSTANCE_METADATA is on.

Building the chain contacts nothing (botocore resolves lazily); which providers it holds is the point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datawharf.connections.identity import own_session
from datawharf.settings import Settings

METADATA = {"iam-role", "container-role"}


@pytest.mark.parametrize("enabled", [False, True])
def test_metadata_providers_are_in_the_chain_only_when_the_setting_is_on(
    tmp_path: Path, enabled: bool
) -> None:
    session = own_session(Settings(home=tmp_path, aws_instance_metadata=enabled))
    methods = {provider.METHOD for provider in session.get_component("credential_provider").providers}
    assert "env" in methods and "shared-credentials-file" in methods  # the rest of the chain stays
    assert (methods >= METADATA) is enabled and (METADATA & methods == set()) is not enabled


def test_the_setting_is_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAWHARF_AWS_INSTANCE_METADATA", raising=False)
    assert Settings(home=tmp_path).aws_instance_metadata is False
