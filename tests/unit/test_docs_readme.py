"""The README's examples follow the API's semantics: a PUT replaces the whole connection (as the
reference's PUT does), so every example that changes a connection GETs it, modifies it and PUTs it back."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
# One shell command: a "$ " line and its "\"-continued lines.
COMMAND = re.compile(r"^\$ .*?(?:\\\n.*?)*$", re.MULTILINE)


def test_every_connection_put_is_a_get_modify_put() -> None:
    commands = [c for c in COMMAND.findall(README.read_text()) if "-X PUT $A/datasource_connections/" in c]
    assert len(commands) >= 3  # the key rotation, the wrong secret, the role ARN
    for command in commands:
        uid = re.search(r"-X PUT \$A/datasource_connections/(co_\w+)/", command)
        assert uid is not None
        get = f"curl -s $A/datasource_connections/{uid.group(1)}/ "
        assert command.startswith(f"$ {get}") and "-d @-" in command, command
