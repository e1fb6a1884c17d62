"""``datawharf connections create|list|show|update|validate|delete|policy``, calling the core directly.

Secrets never come from argv (a command line is visible to every user of the machine in ``ps`` and
``/proc``, and kept in shell history): the secret access key is read from a hidden prompt, from stdin
with ``--secret-stdin`` or from a file with ``--secret-file``; a header's value from a hidden prompt
(``--header NAME``) or from a file of ``Name: value`` lines (``--header-file``). A value given in
argv anyway (``--header NAME=VALUE``, ``--secret-access-key VALUE``) is refused with
``secret_in_argv``, naming the safe forms, and never repeated. Prompts come in order: the secret, then
each ``--header`` in the order given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from datawharf.cli.common import console, friendly_errors, server
from datawharf.cli.database import database
from datawharf.connections import service
from datawharf.connections.schemas import ConnectionCreate, ConnectionUpdate
from datawharf.errors import InvalidInput
from datawharf.inputs import parse_input
from datawharf.settings import Settings

app = typer.Typer(help="Manage Amazon S3 connections (secrets are write-only).", no_args_is_help=True)

AUTH_HELP = "aws_signature_v4 (access key + secret) or iam_role (datawharf assumes a role of yours)."
HEADER_HELP = (
    "An extra header sent with every request: its NAME only, the value is asked for (hidden input); "
    "repeat for more."
)
HEADER_FILE_HELP = "A file of extra headers, one 'Name: value' a line ('-': stdin); keep it mode 0600."
SECRET_STDIN_HELP = "Read the secret access key from stdin (one line)."
SECRET_FILE_HELP = "Read the secret access key from this file (its first line); keep it mode 0600."
SAFE_SECRET_FORMS = "a hidden prompt (the default), --secret-stdin or --secret-file FILE"
SAFE_HEADER_FORMS = (
    "--header NAME (the value is asked for, hidden) or --header-file FILE ('Name: value' lines)"
)


def _refuse_argv_secret(what: str, safe_forms: str) -> InvalidInput:
    return InvalidInput(
        f"{what} was given on the command line, where every user of this machine can read it (ps, "
        f"/proc) and the shell history keeps it; it was not used. Give it with {safe_forms}.",
        error_code="secret_in_argv",
    )


def _read_file(path: str, what: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The {what} file {path} could not be read ({type(exc).__name__}): check its path and "
            "permissions (it must be UTF-8 text).",
            error_code="unreadable_secret_file",
        ) from None


def _read_secret(from_stdin: bool, from_file: str | None, prompt: str = "Secret access key") -> str:
    if from_file is not None:
        return (_read_file(from_file, "secret").splitlines() or [""])[0]
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True))


def _header_file(path: str) -> list[dict[str, Any]]:
    """``Name: value`` lines (HTTP's own syntax; blank lines and ``#`` comments skipped). A bad line is
    named by its number, never quoted: it may hold a secret."""
    headers = []
    for number, line in enumerate(_read_file(path, "header").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise InvalidInput(
                f"Line {number} of the header file {path} is not 'Name: value': write one header a "
                "line, its name, a colon, then its value.",
                error_code="invalid_header",
            )
        headers.append({"name": name.strip(), "value": value.strip()})
    return headers


def _headers(
    names: list[str] | None, header_file: str | None, *, keep_if_empty: bool
) -> list[dict[str, Any]]:
    """Headers from ``--header NAME`` (value prompted for, hidden) and ``--header-file``. On update an
    empty answer keeps the stored value (the API's rule for a missing value)."""
    headers = []
    for name in names or []:
        asked = typer.prompt(f"Value of the header {name}", hide_input=True, default="", show_default=False)
        value = str(asked)
        headers.append({"name": name.strip(), "value": value if value or not keep_if_empty else None})
    if header_file is not None:
        headers.extend(_header_file(header_file))
    return headers


def _check_secret_options(
    secret_argv: str | None, header_names: list[str] | None, secret_stdin: bool, header_file: str | None
) -> None:
    """Before anything is read: refuse a secret given in argv (``--header NAME=VALUE``, or the hidden
    ``--secret-access-key``/``--secret``, there only to say so; the value is never repeated), and two
    readers of stdin."""
    if secret_argv is not None:
        raise _refuse_argv_secret("The secret access key", SAFE_SECRET_FORMS)
    for name in header_names or []:
        if "=" in name:
            shown = name.partition("=")[0].strip()
            raise _refuse_argv_secret(f"The value of the header {shown}", SAFE_HEADER_FORMS)
    if secret_stdin and header_file == "-":
        raise InvalidInput(
            "--secret-stdin and --header-file - both read stdin: put the headers (or the secret) in a "
            "file instead.",
            error_code="invalid_option",
        )


def _public(session: Any, row: Any) -> dict[str, Any]:
    """A connection as the API answers it: both modes print from this JSON."""
    return service.to_public(session, row).model_dump(mode="json")


def _print(public: dict[str, Any]) -> None:
    console.print_json(json.dumps(public))


def _summary(public: dict[str, Any]) -> None:
    report, auth = public["validation"], public["auth"]
    state = "valid" if report and report["is_valid"] else "NOT valid"
    console.print(f"Connection {public['uid']} ({auth['type']}): {state}.", highlight=False)
    if report:
        for step in report["steps"]:
            mark = {True: "ok", False: "FAILED", None: "-"}[step["ok"]]
            code = f" [{step['error_code']}]" if step["error_code"] else ""
            console.print(
                f"  {step['name']:<15} {mark:<6}{code} {step['message']}", highlight=False, markup=False
            )
    if auth["type"] == "iam_role":
        console.print(f"ods_aws_account_id: {auth['ods_aws_account_id']}", highlight=False)
        console.print(f"external_id:        {auth['external_id']}", highlight=False)
        console.print(f"role_arn:           {auth['role_arn'] or '(not set yet)'}", highlight=False)
        console.print("Trust policy to give the role (IAM > Roles > Trust relationships):")
        console.print_json(json.dumps(auth["trust_policy"]))


@app.command("create")
@friendly_errors
def create(
    url: str = typer.Option(None, "--url", help="The bucket's or endpoint's URL."),
    region: str = typer.Option(..., "--region", help="The bucket's region, e.g. eu-west-3."),
    auth: str = typer.Option("aws_signature_v4", "--auth", help=AUTH_HELP),
    access_key_id: str = typer.Option(None, "--access-key-id", help="Signature v4: the access key ID."),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help=SECRET_STDIN_HELP),
    secret_file: str = typer.Option(None, "--secret-file", help=SECRET_FILE_HELP),
    secret_argv: str = typer.Option(None, "--secret-access-key", "--secret", hidden=True),
    header: list[str] = typer.Option(None, "--header", help=HEADER_HELP),
    header_file: str = typer.Option(None, "--header-file", help=HEADER_FILE_HELP),
    title: str = typer.Option(None, "--title"),
    description: str = typer.Option(None, "--description"),
    json_output: bool = typer.Option(False, "--json", help="Print the connection as JSON."),
) -> None:
    """Create a connection and validate it (an invalid one is saved, with its report).

    Secrets are never options: the secret access key is asked for (hidden), or read with --secret-stdin
    or --secret-file; a header's value is asked for (--header NAME), or read with --header-file."""
    _check_secret_options(secret_argv, header, secret_stdin, header_file)
    body: dict[str, Any] = {"type": "amazon_s3", "url": url, "title": title, "description": description}
    if auth == "aws_signature_v4":
        secret = _read_secret(secret_stdin, secret_file)
        body["auth"] = {
            "type": auth,
            "access_key_id": access_key_id or "",
            "secret_access_key": secret,
            "region": region,
        }
    else:
        body["auth"] = {"type": auth, "region": region, "role_arn": ""}
    body["headers"] = _headers(header, header_file, keep_if_empty=False)
    remote = server()
    if remote is not None:
        public = remote.call("POST", "/datasource_connections/", json=body)
    else:
        data = parse_input(ConnectionCreate, body)
        with database() as db, db.session() as session:
            public = _public(session, service.create_connection(session, Settings(), data))
    _print(public) if json_output else _summary(public)


@app.command("list")
@friendly_errors
def list_() -> None:
    """List connections (never their secrets)."""
    table = Table("uid", "auth", "region", "url", "valid", "datasets", "title")
    remote = server()
    if remote is not None:
        publics = list(remote.every("/datasource_connections/"))
    else:
        with database() as db, db.session() as session:
            _total, rows = service.list_connections(session, limit=1000, offset=0)
            publics = [_public(session, row) for row in rows]
    for public in publics:
        valid = public["validation"]["is_valid"] if public["validation"] else False
        table.add_row(
            public["uid"],
            public["auth"]["type"],
            public["auth"]["region"],
            public["url"] or "",
            "yes" if valid else "no",
            str(public["dataset_count"]),
            public["title"] or "",
        )
    console.print(table)


@app.command("show")
@friendly_errors
def show(uid: str) -> None:
    """Print a connection as JSON (secrets are null)."""
    _print(_current(uid))


def _current(uid: str) -> dict[str, Any]:
    remote = server()
    if remote is not None:
        found: dict[str, Any] = remote.call("GET", f"/datasource_connections/{uid}/")
        return found
    with database() as db, db.session() as session:
        return _public(session, service.get_connection(session, uid))


@app.command("update")
@friendly_errors
def update(
    uid: str,
    url: str = typer.Option(None, "--url"),
    region: str = typer.Option(None, "--region"),
    access_key_id: str = typer.Option(None, "--access-key-id"),
    new_secret: bool = typer.Option(False, "--new-secret", help="Prompt for a new secret (key rotation)."),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="Read the new secret from stdin."),
    secret_file: str = typer.Option(None, "--secret-file", help="Read the new secret from this file."),
    secret_argv: str = typer.Option(None, "--secret-access-key", "--secret", hidden=True),
    role_arn: str = typer.Option(None, "--role-arn", help="IAM role: the ARN of the role to assume."),
    header: list[str] = typer.Option(
        None,
        "--header",
        help=HEADER_HELP + " Replaces the saved headers; an empty answer keeps that header's saved value.",
    ),
    header_file: str = typer.Option(None, "--header-file", help=HEADER_FILE_HELP + " Replaces them."),
    title: str = typer.Option(None, "--title"),
    description: str = typer.Option(None, "--description"),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Change some fields; the others (and the stored secret) stay as they are. Validates again."""
    _check_secret_options(secret_argv, header, secret_stdin, header_file)
    rotating = new_secret or secret_stdin or secret_file is not None
    secret = _read_secret(secret_stdin, secret_file, "New secret access key") if rotating else None
    given_headers = header or header_file is not None
    headers = _headers(header, header_file, keep_if_empty=True) if given_headers else None
    current = _current(uid)  # GET, modify, PUT: the API's PUT replaces the whole connection
    current_auth = current["auth"]
    body: dict[str, Any] = {
        "type": "amazon_s3",
        "url": url if url is not None else current["url"],
        "title": title if title is not None else current["title"],
        "description": description if description is not None else current["description"],
        "is_reusable": current["is_reusable"],
        "headers": headers if headers is not None else [{"name": h["name"]} for h in current["headers"]],
    }
    if current_auth["type"] == "aws_signature_v4":
        body["auth"] = {
            "type": "aws_signature_v4",
            "access_key_id": access_key_id or current_auth["access_key_id"],
            "secret_access_key": secret,
            "region": region or current_auth["region"],
        }
    else:
        body["auth"] = {
            "type": "iam_role",
            "region": region or current_auth["region"],
            "role_arn": role_arn if role_arn is not None else current_auth["role_arn"],
        }
    remote = server()
    if remote is not None:
        public = remote.call("PUT", f"/datasource_connections/{uid}/", json=body)
    else:
        with database() as db, db.session() as session:
            change = parse_input(ConnectionUpdate, body)
            public = _public(session, service.update_connection(session, Settings(), uid, change))
    _print(public) if json_output else _summary(public)


@app.command("validate")
@friendly_errors
def validate(
    uid: str,
    url: str = typer.Option(None, "--url", help="Check this object or prefix (may be relative)."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Validate now with real signed requests; exits 1 if the connection is not valid."""
    remote = server()
    if remote is not None:
        query = {"url": url} if url else None
        public = remote.call("POST", f"/datasource_connections/{uid}/validate/", params=query)
    else:
        with database() as db, db.session() as session:
            public = _public(session, service.validate_connection(session, Settings(), uid, url))
    _print(public) if json_output else _summary(public)
    if not (public["validation"] and public["validation"]["is_valid"]):
        raise typer.Exit(1)


@app.command("delete")
@friendly_errors
def delete(uid: str) -> None:
    """Delete a connection (refused while a dataset uses it)."""
    remote = server()
    if remote is not None:
        remote.call("DELETE", f"/datasource_connections/{uid}/")
    else:
        with database() as db, db.session() as session:
            service.delete_connection(session, uid)
    console.print(f"Deleted {uid}.")


@app.command("policy")
@friendly_errors
def policy(
    uid: str, url: str = typer.Option(..., "--url", help="The object or prefix the role must read.")
) -> None:
    """Print the trust policy and a least-privilege permission policy for --url."""
    remote = server()
    if remote is not None:
        documents = remote.call("GET", f"/datasource_connections/{uid}/policy/", params={"url": url})
    else:
        with database() as db, db.session() as session:
            found = service.policy_documents(session, uid, url)
        documents = {"trust_policy": found.trust_policy, "permission_policy": found.permission_policy}
    console.print("Trust policy:")
    console.print_json(json.dumps(documents["trust_policy"]))
    console.print(f"Permission policy for {url}:", highlight=False)
    console.print_json(json.dumps(documents["permission_policy"]))
