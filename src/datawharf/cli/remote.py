"""The CLI's server mode: the Automation API of a running datawharf, over HTTP (httpx).

Every answer that is not a 2xx becomes a ``DatawharfError`` carrying the server's own ``error_code`` and
``message`` (the reference error body), so ``friendly_errors`` prints ``error [code]: message`` exactly as
for a local error; a server that cannot be reached, or that answers something else than datawharf's
JSON, is ``server_unreachable`` / ``not_a_datawharf_server`` naming the URL. The key travels in the
``Authorization: apikey`` header only, never in a URL (which proxies log).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from datawharf import __version__
from datawharf.errors import DatawharfError

API = "/api/automation/v1.0"
PAGE = 1000  # the reference's largest page
TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # a create validates the connection with S3 first


class ServerError(DatawharfError):
    """An error the server answered, kept with its HTTP status, code and message."""

    def __init__(self, status: int, error_code: str, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message, error_code=error_code, detail=detail)
        self.status = status


class Server:
    """One server's Automation API, with one key; ``call`` returns the decoded JSON body."""

    def __init__(self, url: str, api_key: str) -> None:
        self.base_url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"apikey {api_key}", "User-Agent": f"datawharf-cli/{__version__}"},
            timeout=TIMEOUT,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        api: str = API,
    ) -> Any:
        """``method`` on ``api + path``; the JSON body (None for a 204), or the server's error raised."""
        try:
            response = self._client.request(method, api + path, json=json, params=params)
        except httpx.TransportError as exc:
            raise DatawharfError(
                f"The datawharf server {self.base_url} could not be reached ({type(exc).__name__}): check "
                "the URL given with --server or DATAWHARF_URL, and that 'datawharf serve' runs there.",
                error_code="server_unreachable",
            ) from None
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
        if isinstance(body, dict) and isinstance(body.get("error_code"), str):
            detail = body.get("detail")
            raise ServerError(
                response.status_code,
                body["error_code"],
                str(body.get("message", "")),
                detail if isinstance(detail, dict) else {},
            )
        raise DatawharfError(
            f"{self.base_url} answered {method} {api}{path} with HTTP {response.status_code} and no "
            "datawharf error body: check that --server (or DATAWHARF_URL) is a datawharf server's base URL, "
            "e.g. http://127.0.0.1:8000.",
            error_code="not_a_datawharf_server",
        )

    def every(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every result of a paginated list, page after page."""
        offset = 0
        while True:
            page = self.call("GET", path, params={**(params or {}), "limit": PAGE, "offset": offset})
            yield from page["results"]
            offset += len(page["results"])
            if not page["results"] or offset >= page["total_count"]:
                return

    def dataset_status(self, uid: str) -> dict[str, Any]:
        """Where dataset ``uid`` stands (the reference's status body, with datawharf's ``progress``)."""
        found: dict[str, Any] = self.call("GET", f"/datasets/{uid}/status/")
        return found

    def dataset_uid(self, reference: str) -> str:
        """A ``da_...`` uid as it is, a ``dataset_id`` looked up: what the CLI accepts in both modes."""
        if reference.startswith("da_"):
            try:
                return str(self.call("GET", f"/datasets/{reference}/")["uid"])
            except ServerError as exc:
                if exc.status != 404:
                    raise
        found = self.call("GET", "/datasets/", params={"dataset_id": reference, "limit": 1})["results"]
        if not found:
            raise ServerError(
                404,
                "dataset_not_found",
                f"No dataset with uid or dataset_id {reference!r} on {self.base_url}. "
                "List them with 'datawharf datasets list'.",
                {},
            )
        return str(found[0]["uid"])
