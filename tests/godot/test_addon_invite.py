"""An invite link in the engine, end to end: the real Uro-compatible API redeems it and signs
relay tickets, the real relay checks them, Caddy is the front door (tests/godot/live.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.godot.addon import lines_starting, passed, run_scenario_async
from tests.godot.live import standalone_party

pytestmark = [
    pytest.mark.usefixtures("godot_engine"),
    pytest.mark.slow,
]


async def test_a_player_joins_with_an_invite_and_reconnects_with_a_fresh_ticket(
    tmp_path: Path, database_url: str
) -> None:
    with standalone_party(tmp_path / "party", database_url) as party:
        invite = party.invite("for Ada")
        assert invite["link"] == f"{party.front_url}/invite/{invite['code']}"
        result = await run_scenario_async("live_invite", link=invite["link"], name="Ada", expect="join")
        assert passed(result), result.describe()
        [joined] = lines_starting(result, "joined as ")
        # The name the invite gave the account is the one the relay shows to everyone.
        assert joined.startswith("joined as Ada, member ")
        assert joined.endswith(f"relay invite link to ws://{party.front_url.removeprefix('http://')}/relay")
        assert lines_starting(result, "resumed as member ")
        assert party.requests_to("/api/v1/invites/redeem") == 1
        assert party.requests_to("/api/v1/tickets") == 2  # one per connection

        # The link again, with another name: the same account, renamed by the redemption itself.
        again = await run_scenario_async(
            "live_invite", link=invite["link"], name="Ada Lovelace", expect="join"
        )
        assert passed(again), again.describe()
        [rejoined] = lines_starting(again, "joined as ")
        assert rejoined.startswith("joined as Ada Lovelace, member ")
        assert party.requests_to("/api/v1/invites/redeem") == 2
        assert party.requests_to("/api/v1/profile", "PUT") == 0  # webkeys only


async def test_a_revoked_or_unknown_invite_is_refused_with_the_hosts_words(
    tmp_path: Path, database_url: str
) -> None:
    with standalone_party(tmp_path / "party", database_url) as party:
        invite = party.invite("for Mallory")
        party.revoke(invite["id"])
        revoked = await run_scenario_async("live_invite", link=invite["link"], expect="refused")
        unknown = await run_scenario_async(
            "live_invite", link=f"{party.front_url}/invite/no-such-code", expect="refused"
        )
    assert passed(revoked), revoked.describe()
    assert lines_starting(revoked, "refused: ") == ["refused: That invite was revoked by the host."]
    assert passed(unknown), unknown.describe()
    assert lines_starting(unknown, "refused: ") == [
        "refused: That invite link is not valid: ask the host for a new one."
    ]
