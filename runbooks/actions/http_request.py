"""``http.request``: one HTTP call to an in-house key service; fails on an unexpected status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from runbooks.actions.base import Action, ActionContext, Args, http_error, response_error
from runbooks.errors import ActionError

MAX_BODY = 4096


class RequestArgs(Args):
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")
    form: dict[str, str] | None = None
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])


class HttpRequest(Action[RequestArgs]):
    """Send the request; output the status and (a bounded) JSON or text body."""

    name = "http.request"
    args = RequestArgs

    def plan(self, args: RequestArgs, ctx: ActionContext) -> str:
        return f"{args.method} {args.url} (expects {', '.join(map(str, args.expect_status))})"

    def run(self, args: RequestArgs, ctx: ActionContext) -> dict[str, Any]:
        import httpx  # imported when an HTTP action runs (~0.3 s), not at load

        if not args.url.startswith(("https://", "http://")):
            raise ActionError(f"http.request: url must be http(s), got {args.url!r}")
        try:
            with ctx.http() as client:
                response = client.request(
                    args.method, args.url, headers=args.headers, json=args.json_body, data=args.form
                )
        except httpx.HTTPError as exc:
            raise http_error("http.request", exc) from None
        if response.status_code not in args.expect_status:
            raise response_error("http.request", response)
        body: Any
        try:
            body = response.json() if len(response.content) <= MAX_BODY else None
        except ValueError:
            body = response.text[:MAX_BODY]
        return {"status": response.status_code, "body": body}


ACTION = HttpRequest()
