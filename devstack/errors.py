"""The one error shape of the stack: {"error": code, "detail": what, "hint": what to do}."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the proxy has this shape."""

    error: str
    detail: str
    hint: str


def error_body(error: str, detail: str, hint: str) -> dict[str, str]:
    return ErrorBody(error=error, detail=detail, hint=hint).model_dump()


class ApiError(Exception):
    """Raised by handlers; rendered as ErrorBody with its status."""

    def __init__(self, status: int, error: str, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.hint = status, error, detail, hint
