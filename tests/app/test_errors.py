"""The page API's errors: the shape the pages read, and how the relay's or the API's refusals pass on."""

from __future__ import annotations

import json

from app.errors import api_error, upstream_error


def test_an_api_error_is_the_shape_the_pages_read() -> None:
    r = api_error(409, "taken")
    assert r.status_code == 409 and json.loads(bytes(r.body)) == {"status": "error", "error": "taken"}


def test_an_upstream_4xx_is_passed_on_and_anything_else_is_a_bad_gateway() -> None:
    passed = {status: upstream_error(status, "why").status_code for status in (400, 404, 499)}
    assert passed == {400: 400, 404: 404, 499: 499}
    for status in (302, 399, 500, 503):
        r = upstream_error(status, "why")
        assert r.status_code == 502 and json.loads(bytes(r.body)) == {"status": "error", "error": "why"}
