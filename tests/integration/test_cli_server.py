"""The CLI through a running server (issue 17): ``--server URL`` / ``DATAWHARF_URL`` with
``DATAWHARF_API_KEY``. Every command goes through a real ``datawharf serve`` subprocess's Automation API,
from another, empty home, and prints what the same command prints on the server's own home."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.cli import after_target_line
from tests.support.moto import MotoServer
from tests.support.processes import datawharf_serve

KEY = "b" * 64
CSV = b"name;qty;when\napple;3;2024-01-02\npear;5;2024-02-03\nfig;7;2024-03-04\n"


def cli(
    home: Path, *args: str, server: str | None = None, key: str = KEY, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m datawharf ARGS`` on ``home``, through ``server`` when given."""
    env = {
        "DATAWHARF_HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "250",
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},  # this tree's code
    }
    if server is not None:
        env.update({"DATAWHARF_URL": server, "DATAWHARF_API_KEY": key})
    return subprocess.run(
        [sys.executable, "-m", "datawharf", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_every_command_goes_through_the_server(tmp_path: Path, moto_server: MotoServer) -> None:
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "fruits.csv", CSV)
    server_home, elsewhere = tmp_path / "server", tmp_path / "elsewhere"
    env = {"DATAWHARF_BOOTSTRAP_API_KEY": KEY, "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port}
    with datawharf_serve(server_home, env) as (base_url, _process):

        def remote(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
            done = cli(elsewhere, *args, server=base_url, stdin=stdin)
            assert done.stderr.startswith(f"datawharf: server {base_url}\n"), done.stderr
            return done

        created = remote(
            "connections", "create", "--url", f"{moto_server.endpoint_url}/{bucket}/",
            "--region", "us-east-1", "--access-key-id", "testing", "--secret-stdin", "--title", "moto",
            stdin="testing\n",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        co = re.search(r"Connection (co_[a-z0-9]+) \(aws_signature_v4\): valid\.", created.stdout).group(1)
        assert co in remote("connections", "list").stdout

        made = remote(
            "datasets", "create", "fruits.csv", "--title", "Fruits", "--connection", co, "-p", "separator=;"
        )
        assert made.returncode == 0, made.stderr
        assert re.match(r"Created dataset da_\w+ \(fruits\) with resource re_\w+\.\n", made.stdout), (
            made.stdout
        )
        assert 'Extractor csvfile: {"encoding": "utf-8", "separator": ";"' in made.stdout

        # A resource the server refuses leaves no dataset behind, as the home's one transaction does.
        outside = remote(
            "datasets", "create", "http://127.0.0.1:9/other/x.csv", "--title", "Other", "--connection", co
        )
        assert outside.returncode == 1 and "error [url_outside_connection]" in outside.stderr, outside.stderr
        assert "other" not in remote("datasets", "list").stdout

        published = remote("datasets", "publish", "fruits", "--wait")
        assert published.returncode == 0, published.stderr
        assert "status: idle  published: True  version: ch_" in published.stdout
        assert "records: 3" in published.stdout

        # Create and publish in one command (issue 16): the server runs it, the CLI follows it.
        at_once = remote(
            "datasets", "create", "fruits.csv", "--title", "Fruits again", "--connection", co,
            "-p", "separator=;", "--publish", "--wait",
        )  # fmt: skip
        assert at_once.returncode == 0, at_once.stderr
        assert re.match(r"Created dataset da_\w+ \(fruits-again\) with resource re_\w+\.\n", at_once.stdout)
        assert "Publish it with" not in at_once.stdout
        assert "status: idle  published: True  version: ch_" in at_once.stdout
        assert "records: 3" in at_once.stdout

        shown = remote("datasets", "show", "fruits")
        assert re.search(r"│ qty\s+│ qty\s+│ int\s+│", shown.stdout), shown.stdout
        assert re.search(r"│ when\s+│ when\s+│ date\s+│", shown.stdout), shown.stdout

        previewed = remote("preview", "fruits.csv", "--connection", co, "--dataset", "fruits", "--json")
        assert previewed.returncode == 0, previewed.stderr
        assert '"name": "fig"' in previewed.stdout and '"separator": ";"' in previewed.stdout

        # The same commands on the server's own home print the same thing (the target line aside).
        same = (("datasets", "list"), ("datasets", "versions", "fruits"), ("datasets", "status", "fruits"),
                ("connections", "list"), ("connections", "show", co))  # fmt: skip
        for args in same:
            through, local = remote(*args), cli(server_home, *args)
            assert local.stderr.startswith(f"datawharf: home {server_home} ")
            if args[1] == "versions":  # where the files are: a folder here, the server's warehouse there
                assert through.stdout.splitlines()[:-1] == local.stdout.splitlines()[:-1]
                assert local.stdout.splitlines()[-1].startswith(
                    f"Parquet files under {server_home}/warehouse/"
                )
            else:
                assert through.stdout == local.stdout, args
        assert "fruits" in remote("datasets", "list").stdout

        # The home the command runs on is not read: it stays empty.
        assert "fruits" not in cli(elsewhere, "datasets", "list").stdout

        # An error the server answers: its code and message, exit code 1.
        in_use = remote("connections", "delete", co)
        assert in_use.returncode == 1
        assert after_target_line(in_use.stderr).startswith(
            f"error [connection_in_use]: The connection {co} is used"
        )
        missing = remote("datasets", "status", "no-such-dataset")
        assert missing.returncode == 1 and "error [dataset_not_found]" in missing.stderr
        assert "Traceback" not in in_use.stderr + missing.stderr

        # API keys: created through the server, listed, revoked; a revoked or wrong key is refused.
        made_key = remote("apikeys", "create", "--label", "robot", "-p", "edit_dataset")
        uid = re.search(r"(ak_[a-z0-9]+)", made_key.stdout).group(1)
        clear = re.search(r"^([0-9a-f]{64})$", made_key.stdout, re.MULTILINE).group(1)
        assert re.search(rf"│ {uid}\s+│ robot\s+│\s+│ edit_dataset\s+│", remote("apikeys", "list").stdout)
        assert "fruits" in cli(elsewhere, "datasets", "list", server=base_url, key=clear).stdout
        refused = cli(elsewhere, "connections", "list", server=base_url, key=clear)  # no edit_domain
        assert refused.returncode == 1 and "error [missing_permission]" in refused.stderr, refused.stderr
        assert remote("apikeys", "revoke", uid).stdout.strip() == f"Revoked {uid}."
        for wrong_key in (clear, "0" * 64):
            wrong = cli(elsewhere, "datasets", "list", server=base_url, key=wrong_key)
            assert wrong.returncode == 1
            assert after_target_line(wrong.stderr).startswith(
                "error [invalid_api_key]: The API key is unknown or revoked."
            ), wrong.stderr

        for dataset in ("fruits", "fruits-again"):
            assert remote("datasets", "delete", dataset, "--yes").returncode == 0
        assert remote("connections", "delete", co).stdout.strip() == f"Deleted {co}."

        # A person opening the printed address lands on the backoffice's sign-in page.
        landed = httpx.get(f"{base_url}/", follow_redirects=True)
        assert landed.status_code == 200 and landed.url.path == "/backoffice/sign-in", landed.url
        assert "text/html" in landed.headers["content-type"]


def test_server_mode_refusals_name_the_fix(tmp_path: Path) -> None:
    no_key = cli(tmp_path, "datasets", "list", server="http://127.0.0.1:9", key="")
    assert (
        no_key.returncode == 1
        and "error [missing_api_key]: --server http://127.0.0.1:9 needs" in no_key.stderr
    )
    unreachable = cli(tmp_path, "datasets", "list", server="http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "error [server_unreachable]" in unreachable.stderr
    in_argv = cli(tmp_path, "--api-key", "x" * 64, "datasets", "list")
    assert in_argv.returncode == 1 and "error [secret_in_argv]: The API key was given" in in_argv.stderr
    assert "x" * 64 not in in_argv.stderr
    key_file = tmp_path / "key"
    key_file.write_text("0" * 64 + "\n")
    from_file = cli(
        tmp_path, "--server", "http://127.0.0.1:9", "--api-key-file", str(key_file), "datasets", "list"
    )
    assert "error [server_unreachable]" in from_file.stderr  # the key was read: it got as far as connecting
    without_dataset = cli(tmp_path, "preview", "x.csv", server="http://127.0.0.1:9")
    assert "error [dataset_required]: With --server, preview needs --dataset" in without_dataset.stderr
