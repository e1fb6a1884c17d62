"""Sign-in with an API key, and sign-out.

The key typed in the form is checked by the core (``apikeys.authenticate``); the session keeps only the
key's uid, in a server-side session (``web/session.py``) that sign-out deletes. A revoked key ends its
sessions at the next request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from datawharf import apikeys
from datawharf.errors import AuthenticationFailed
from datawharf.web.rendering import (
    BASE,
    BackofficeRoute,
    Visitor,
    csrf_checked,
    current_session,
    database_of,
    redirect,
    render,
    replace_session,
    settings_of,
    signed_in,
    visitor,
)
from datawharf.web.session import WebSession, close_session, open_session

router = APIRouter(prefix=BASE, route_class=BackofficeRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path inside the backoffice: ``next`` must never send the visitor to another site."""
    if target and target.startswith(BASE + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{BASE}/datasets/"


@router.get("/")
def home(current: Annotated[Visitor, Depends(signed_in)]) -> Response:
    return redirect(f"{BASE}/datasets/")


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    current = visitor(request)
    if current.api_key is not None:
        return redirect(safe_next(next))
    return render(request, "sign_in.html", next=safe_next(next), error=None)


@router.post("/sign-in", dependencies=[Depends(csrf_checked)])
def sign_in(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    lifetime = timedelta(hours=settings_of(request).backoffice_session_hours)
    try:
        with database_of(request).session() as db:
            key = apikeys.authenticate(db, api_key.strip())
            close_session(db, current_session(request))  # signing in again replaces, never piles up
            session = open_session(db, key.uid, lifetime)
    except AuthenticationFailed:
        return render(
            request,
            "sign_in.html",
            status_code=401,
            next=safe_next(next),
            error="This API key is unknown or revoked. Paste a live key (the first one is printed by "
            "'datawharf serve'; create more with 'datawharf apikeys create').",
        )
    replace_session(request, session)
    return redirect(safe_next(next))


@router.post("/sign-out", dependencies=[Depends(csrf_checked)])
def sign_out(request: Request) -> Response:
    """Ends the session on the server: the old cookie, wherever a copy of it is, signs nobody in."""
    with database_of(request).session() as db:
        close_session(db, current_session(request))
    replace_session(request, WebSession.anonymous())
    return redirect(f"{BASE}/sign-in")
