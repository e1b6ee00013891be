"""The invitation code's format: every code the API makes is one the host's pages accept."""

from __future__ import annotations

from common.invites import INVITE_CODE, INVITE_CODE_MAX_LEN, invite_path, new_invite_code


def test_every_new_code_is_unique_and_in_the_format_the_pages_accept() -> None:
    codes = {new_invite_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(INVITE_CODE.fullmatch(code) and len(code) <= INVITE_CODE_MAX_LEN for code in codes)


def test_the_format_refuses_what_no_code_is() -> None:
    for text in ("short", "x" * (INVITE_CODE_MAX_LEN + 1), "with space1", "dot.ted.code", "slash/in/it1"):
        assert not INVITE_CODE.fullmatch(text), text
    assert INVITE_CODE.fullmatch("Ab3_-xyz12345678")


def test_the_link_is_the_code_under_the_invite_path() -> None:
    assert invite_path("Ab3_-xyz12345678") == "/invite/Ab3_-xyz12345678"
