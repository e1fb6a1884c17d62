"""``datawharf connections create|list|show|update|validate|delete|policy``, calling the core directly.

Secrets never come from argv (a command line is visible to every user of the machine, and kept in
shell history): the secret access key is read from a hidden prompt, or from stdin with
``--secret-stdin`` for scripts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.table import Table

from datawharf.cli.common import console, database, friendly_errors
from datawharf.connections import service
from datawharf.connections.schemas import ConnectionCreate, ConnectionPublic, ConnectionUpdate
from datawharf.errors import InvalidInput
from datawharf.inputs import parse_input
from datawharf.settings import Settings

app = typer.Typer(help="Manage Amazon S3 connections (secrets are write-only).", no_args_is_help=True)

AUTH_HELP = "aws_signature_v4 (access key + secret) or iam_role (datawharf assumes a role of yours)."
HEADER_HELP = "An extra header sent with every request, NAME=VALUE; repeat for more."


def _read_secret(from_stdin: bool, prompt: str = "Secret access key") -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True))


def _headers(values: list[str] | None) -> list[dict[str, Any]]:
    headers = []
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(
                f"--header {name!r} has no value: write --header NAME=VALUE.", error_code="invalid_header"
            )
        headers.append({"name": name.strip(), "value": value})
    return headers


def _print(public: ConnectionPublic) -> None:
    console.print_json(public.model_dump_json())


def _summary(public: ConnectionPublic) -> None:
    report = public.validation
    state = "valid" if report and report.is_valid else "NOT valid"
    console.print(f"Connection {public.uid} ({public.auth.type}): {state}.", highlight=False)
    if report:
        for step in report.steps:
            mark = {True: "ok", False: "FAILED", None: "-"}[step.ok]
            code = f" [{step.error_code}]" if step.error_code else ""
            console.print(f"  {step.name:<15} {mark:<6}{code} {step.message}", highlight=False, markup=False)
    if public.auth.type == "iam_role":
        console.print(f"ods_aws_account_id: {public.auth.ods_aws_account_id}", highlight=False)
        console.print(f"external_id:        {public.auth.external_id}", highlight=False)
        console.print(f"role_arn:           {public.auth.role_arn or '(not set yet)'}", highlight=False)
        console.print("Trust policy to give the role (IAM > Roles > Trust relationships):")
        console.print_json(json.dumps(public.auth.trust_policy))


@app.command("create")
@friendly_errors
def create(
    url: str = typer.Option(None, "--url", help="The bucket's or endpoint's URL."),
    region: str = typer.Option(..., "--region", help="The bucket's region, e.g. eu-west-3."),
    auth: str = typer.Option("aws_signature_v4", "--auth", help=AUTH_HELP),
    access_key_id: str = typer.Option(None, "--access-key-id", help="Signature v4: the access key ID."),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="Read the secret from stdin (one line)."),
    header: list[str] = typer.Option(None, "--header", help=HEADER_HELP),
    title: str = typer.Option(None, "--title"),
    description: str = typer.Option(None, "--description"),
    json_output: bool = typer.Option(False, "--json", help="Print the connection as JSON."),
) -> None:
    """Create a connection and validate it (an invalid one is saved, with its report)."""
    body: dict[str, Any] = {"type": "amazon_s3", "url": url, "title": title, "description": description}
    if auth == "aws_signature_v4":
        secret = _read_secret(secret_stdin)
        body["auth"] = {
            "type": auth,
            "access_key_id": access_key_id or "",
            "secret_access_key": secret,
            "region": region,
        }
    else:
        body["auth"] = {"type": auth, "region": region, "role_arn": ""}
    body["headers"] = _headers(header)
    data = parse_input(ConnectionCreate, body)
    with database() as db, db.session() as session:
        public = service.to_public(session, service.create_connection(session, Settings(), data))
    _print(public) if json_output else _summary(public)


@app.command("list")
@friendly_errors
def list_() -> None:
    """List connections (never their secrets)."""
    table = Table("uid", "auth", "region", "url", "valid", "datasets", "title")
    with database() as db, db.session() as session:
        _total, rows = service.list_connections(session, limit=1000, offset=0)
        publics = [service.to_public(session, row) for row in rows]
    for public in publics:
        valid = public.validation.is_valid if public.validation else False
        table.add_row(
            public.uid,
            public.auth.type,
            public.auth.region,
            public.url or "",
            "yes" if valid else "no",
            str(public.dataset_count),
            public.title or "",
        )
    console.print(table)


@app.command("show")
@friendly_errors
def show(uid: str) -> None:
    """Print a connection as JSON (secrets are null)."""
    with database() as db, db.session() as session:
        public = service.to_public(session, service.get_connection(session, uid))
    _print(public)


@app.command("update")
@friendly_errors
def update(
    uid: str,
    url: str = typer.Option(None, "--url"),
    region: str = typer.Option(None, "--region"),
    access_key_id: str = typer.Option(None, "--access-key-id"),
    new_secret: bool = typer.Option(False, "--new-secret", help="Prompt for a new secret (key rotation)."),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="Read the new secret from stdin."),
    role_arn: str = typer.Option(None, "--role-arn", help="IAM role: the ARN of the role to assume."),
    header: list[str] = typer.Option(None, "--header", help=HEADER_HELP + " Replaces the saved headers."),
    title: str = typer.Option(None, "--title"),
    description: str = typer.Option(None, "--description"),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Change some fields; the others (and the stored secret) stay as they are. Validates again."""
    secret = _read_secret(secret_stdin, "New secret access key") if (new_secret or secret_stdin) else None
    settings = Settings()
    with database() as db, db.session() as session:
        current = service.to_public(session, service.get_connection(session, uid))
        body: dict[str, Any] = {
            "type": "amazon_s3",
            "url": url if url is not None else current.url,
            "title": title if title is not None else current.title,
            "description": description if description is not None else current.description,
            "is_reusable": current.is_reusable,
            "headers": _headers(header) if header else [{"name": h.name} for h in current.headers],
        }
        if current.auth.type == "aws_signature_v4":
            body["auth"] = {
                "type": "aws_signature_v4",
                "access_key_id": access_key_id or current.auth.access_key_id,
                "secret_access_key": secret,
                "region": region or current.auth.region,
            }
        else:
            body["auth"] = {
                "type": "iam_role",
                "region": region or current.auth.region,
                "role_arn": role_arn if role_arn is not None else current.auth.role_arn,
            }
        updated = service.update_connection(session, settings, uid, parse_input(ConnectionUpdate, body))
        public = service.to_public(session, updated)
    _print(public) if json_output else _summary(public)


@app.command("validate")
@friendly_errors
def validate(
    uid: str,
    url: str = typer.Option(None, "--url", help="Check this object or prefix (may be relative)."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Validate now with real signed requests; exits 1 if the connection is not valid."""
    with database() as db, db.session() as session:
        public = service.to_public(session, service.validate_connection(session, Settings(), uid, url))
    _print(public) if json_output else _summary(public)
    if not (public.validation and public.validation.is_valid):
        raise typer.Exit(1)


@app.command("delete")
@friendly_errors
def delete(uid: str) -> None:
    """Delete a connection (refused while a dataset uses it)."""
    with database() as db, db.session() as session:
        service.delete_connection(session, uid)
    console.print(f"Deleted {uid}.")


@app.command("policy")
@friendly_errors
def policy(
    uid: str, url: str = typer.Option(..., "--url", help="The object or prefix the role must read.")
) -> None:
    """Print the trust policy and a least-privilege permission policy for --url."""
    with database() as db, db.session() as session:
        documents = service.policy_documents(session, uid, url)
    console.print("Trust policy:")
    console.print_json(json.dumps(documents.trust_policy))
    console.print(f"Permission policy for {url}:", highlight=False)
    console.print_json(json.dumps(documents.permission_policy))
