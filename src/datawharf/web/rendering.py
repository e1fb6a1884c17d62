"""What every backoffice page shares: the template environment, the visitor, CSRF, and error pages.

Pages are server-rendered with Jinja2 (autoescaped); a little plain JavaScript (``static/backoffice.js``)
does the in-place parts. ``BackofficeRoute`` is the route class of every backoffice router: it turns
"not signed in" into a redirect to the sign-in page, a failed CSRF check into a 403 page, and any
``DatawharfError`` that a page did not handle itself into an HTML page with the error's message and
status (the API's handlers answer JSON, which a person in a browser should not get).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from datawharf import apikeys
from datawharf.datasets.schedules import describe_cron
from datawharf.errors import DatawharfError
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import ApiKey
from datawharf.web.notices import notice_of
from datawharf.web.session import (
    COOKIE_NAME,
    COOKIE_PATH,
    SessionCodec,
    WebSession,
    session_secret,
    signed_in_key_uid,
)

BASE = "/backoffice"
log = logging.getLogger("datawharf.web")
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """Raised by ``signed_in`` when the visitor has no live key; the route class redirects."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


def build_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["BASE"] = BASE
    env.filters["cron_words"] = cron_words
    env.filters["counted"] = counted
    # Policies are shown as AWS writes them (Version first), not with sorted keys.
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    return env


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 field``, ``2 fields``, ``1,500 records``: a count with its noun, in the singular for one."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def cron_words(expression: str) -> str:
    """The core's reading of a cron expression, or nothing when it has none."""
    return describe_cron(expression) or ""


def templates(request: Request) -> Environment:
    env = getattr(request.app.state, "backoffice_templates", None)
    if env is None:
        env = request.app.state.backoffice_templates = build_templates()
    return env


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def database_of(request: Request) -> Database:
    return request.app.state.database


def _codec(request: Request) -> SessionCodec:
    codec = getattr(request.app.state, "backoffice_sessions", None)
    if codec is None:
        settings = settings_of(request)
        codec = request.app.state.backoffice_sessions = SessionCodec(
            session_secret(settings), max_age_seconds=round(settings.backoffice_session_hours * 3600)
        )
    return codec


@dataclass
class Visitor:
    """The person at the browser: their session and, once signed in, their API key's record."""

    session: WebSession
    api_key: ApiKey | None

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def require(self, permission: str) -> None:
        """Raises the core's ``PermissionDenied`` (shown as a 403 page) when the key lacks it."""
        assert self.api_key is not None
        apikeys.require_permission(self.api_key, permission)


def current_session(request: Request) -> WebSession:
    session = getattr(request.state, "web_session", None)
    if session is None:
        session = _codec(request).loads(request.cookies.get(COOKIE_NAME))
        if session is None:
            session = WebSession.anonymous()
            request.state.web_session_changed = True
        request.state.web_session = session
    return session


def replace_session(request: Request, session: WebSession) -> None:
    """Sign-in and sign-out: the route class writes the new cookie on the way out."""
    request.state.web_session = session
    request.state.web_session_changed = True


def visitor(request: Request) -> Visitor:
    """Who is at the browser: a live server-side session whose API key is live, or nobody (read only)."""
    session = current_session(request)
    api_key: ApiKey | None = None
    if session.session_id is not None:
        with database_of(request).session() as db:
            key_uid = signed_in_key_uid(db, session)
            found = db.get(ApiKey, key_uid) if key_uid is not None else None
            if found is not None and found.revoked_at is None:
                api_key = found
    return Visitor(session=session, api_key=api_key)


def signed_in(request: Request) -> Visitor:
    """Dependency of every page but sign-in: a visitor whose key is live (a revoked key signs out)."""
    current = visitor(request)
    if current.api_key is None:
        raise SignInRequired
    return current


async def csrf_checked(request: Request) -> None:
    """Dependency of every state-changing route: the form field or header must carry the token."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not current_session(request).csrf_matches(presented):
        raise CsrfRejected


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    current: Visitor | None = None,
    **context: Any,
) -> HTMLResponse:
    session = current.session if current is not None else current_session(request)
    context.setdefault("section", "")
    context.setdefault("notice", notice_of(request))
    page = (
        templates(request)
        .get_template(template)
        .render(
            request=request,
            visitor=current,
            csrf_token=session.csrf_token,
            CSRF_FIELD=CSRF_FIELD,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    """After a successful POST: 303, so a reload does not post again."""
    return RedirectResponse(path, status_code=303)


def _write_cookie(request: Request, response: Response) -> None:
    if not getattr(request.state, "web_session_changed", False):
        return
    response.set_cookie(
        COOKIE_NAME,
        _codec(request).dumps(request.state.web_session),
        max_age=_codec(request).max_age_seconds,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


class BackofficeRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def backoffice_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = redirect(f"{BASE}/sign-in?next={quote(target, safe='')}")
            except CsrfRejected:
                response = render(
                    request,
                    "error.html",
                    status_code=403,
                    title="Form expired",
                    message="This form's security token is missing or out of date (the page may be old, "
                    "or you signed in elsewhere). Reload the page and submit again.",
                )
            except DatawharfError as exc:
                response = render(
                    request,
                    "error.html",
                    status_code=exc.http_status,
                    title=_ERROR_TITLES.get(exc.http_status, "Something went wrong"),
                    message=exc.message,
                    current=visitor(request),
                )
            except Exception as exc:  # a bug: an HTML page for the person, the cause in the log
                trace_id = str(uuid.uuid4())
                log.error("backoffice error %s on %s", trace_id, request.url.path, exc_info=exc)
                response = render(
                    request,
                    "error.html",
                    status_code=500,
                    title="Something went wrong",
                    message=f"A server error occurred. Report this trace id to the administrator: {trace_id}",
                )
            _write_cookie(request, response)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return backoffice_handler


_ERROR_TITLES = {
    400: "This cannot be done",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    502: "The storage service did not answer",
}
