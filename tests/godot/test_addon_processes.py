"""The addon in real engines against a party of two relay processes behind a real front door
(Caddy routing `/relay` to process 0 and `/relay/1` to process 1): a join of a room the other
process holds is answered ELSEWHERE, and SoireeClient and SoireeMultiplayerPeer follow it over
one more connection (relay/PROTOCOL.md §4.1)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

import pytest
import trio

from relay.client import open_relay
from tests.godot.addon import lines_starting, passed, scenario_run
from tests.godot.live import RelayProcesses, relay_processes, sandstorm_party, standalone_party
from tests.support.godot_engine import GodotResult, GodotRun

pytestmark = [
    pytest.mark.usefixtures("godot_engine"),
    pytest.mark.slow,
]


async def wait_for_line(
    run: GodotRun, prefix: str, holder: dict[str, GodotResult], timeout: float = 120
) -> str:
    """The first line `run` prints that starts with `prefix` (the run ending first fails)."""
    with trio.fail_after(timeout):
        while True:
            found = [line for stream, line in run.output() if stream == "out" and line.startswith(prefix)]
            if found:
                return found[0]
            if "result" in holder:
                raise AssertionError(
                    f"the run ended before printing {prefix!r}: {holder['result'].describe()}"
                )
            await trio.sleep(0.2)


async def hold_members(
    party: RelayProcesses,
    process: int,
    count: int,
    release: trio.Event,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Holds `count` connections to `process` (Python SDK) until `release`: that process's
    next member ids are above `count`, so that a player's ids on the two processes differ."""
    async with AsyncExitStack() as stack:
        for n in range(count):
            ticket = party.relays[0].ticket(f"holder-{n}")
            url = party.url(f"holder-{n}", process).split("?")[0]
            await stack.enter_async_context(open_relay(url, ticket=ticket))
        task_status.started()
        await release.wait()


async def say_in(party: RelayProcesses, room: str, text: str) -> None:
    """An event from a third player (the Python SDK, with a ticket) in `room`."""
    ticket = party.relays[0].ticket("referee")
    async with open_relay(party.url("referee").split("?")[0], ticket=ticket) as referee:
        joined = await referee.join(room)
        await joined.send_event(text.encode())
        await trio.sleep(0.5)


async def two_players_in_three_rooms(
    party: RelayProcesses,
    players: dict[str, dict[str, object]],
    say: Callable[[str, str], Awaitable[None]],
    hold: int = 0,
) -> tuple[dict[str, GodotResult], dict[str, tuple[int, int]]]:
    """Runs live_processes for two players (name -> arguments: url, process, peer, role...) in
    the porch (process 0), the attic and the shed (process 1). Once both are in every room,
    checks each relay's own view of them, then `say(room, "relays checked")`. `hold`: that many
    connections to process 1 held meanwhile. The results, and each player's member ids in the
    porch and the attic."""
    rooms = {"porch": party.room_on(0, "porch"), "attic": party.room_on(1, "attic")}
    rooms["shed"] = party.room_on(1, "shed")
    runs = {
        name: scenario_run("live_processes", timeout=120, name=name, **rooms, **args)
        for name, args in players.items()
    }
    holders: dict[str, dict[str, GodotResult]] = {name: {} for name in runs}

    async def go(name: str) -> None:
        holders[name]["result"] = await runs[name].run_async()

    release = trio.Event()
    ids = {}
    async with trio.open_nursery() as nursery:
        if hold:
            await nursery.start(hold_members, party, 1, hold, release)
        for name in runs:
            nursery.start_soon(go, name)
        for name, run in runs.items():
            line = await wait_for_line(run, f"{name} is member", holders[name])
            match = re.fullmatch(rf"{name} is member (\d+) in the porch and (\d+) in the attic", line)
            assert match, line
            ids[name] = (int(match[1]), int(match[2]))
        # The relays' own view: each room on its process only, each player a member there under
        # the id its engine reported.

        async def members(process: int, room: str) -> dict[int, str]:
            return await trio.to_thread.run_sync(party.members, process, room)

        assert await members(0, rooms["porch"]) == {ids[name][0]: name for name in runs}
        assert await members(1, rooms["attic"]) == {ids[name][1]: name for name in runs}
        assert sorted((await members(1, rooms["shed"])).values()) == sorted(runs)
        assert await members(1, rooms["porch"]) == {}
        assert await members(0, rooms["attic"]) == {}
        await say(rooms["porch"], "relays checked")
        release.set()
    results = {name: holder["result"] for name, holder in holders.items()}
    for name, result in results.items():
        assert passed(result), f"{name}: {result.describe()}"
        assert lines_starting(result, f"{name}: objects and events in every room")
    return results, ids


async def test_one_client_joins_rooms_on_both_processes_and_resumes_them(tmp_path: Path) -> None:
    with relay_processes(tmp_path / "party") as party:
        # ana's link leads to process 0 (the porch's), bo's to process 1 (as a shard list's
        # room URL does): each reaches the other process's rooms through its one client.
        players: dict[str, dict[str, object]] = {
            "ana": {"url": party.url("ana", 0), "process": 0, "peer": "bo", "role": "first", "reconnect": 1},
            "bo": {"url": party.url("bo", 1), "process": 1, "peer": "ana", "role": "second"},
        }
        results, ids = await two_players_in_three_rooms(party, players, partial(say_in, party), hold=2)
    for name, (porch, attic) in ids.items():
        assert porch != attic, f"{name}: the test needs different member ids on the two processes"
    assert lines_starting(results["ana"], "ana resumed both connections")
    assert lines_starting(results["bo"], "ana left every room")


async def test_sandstorm_webkeys_reach_the_other_process_with_the_token_in_the_path(
    tmp_path: Path, database_url: str
) -> None:
    # Web exports put the token in the path: /.sandstorm-token/<token>/relay/1 for process 1.
    with sandstorm_party(tmp_path / "grain", database_url, relays=2) as grain:
        assert grain.processes is not None
        players: dict[str, dict[str, object]] = {
            name: {
                "url": grain.webkey(f"key-of-{name}"),
                "display_name": name,
                "process": 0,
                "peer": peer,
                "role": role,
                "reconnect": int(role == "first"),
            }
            for name, peer, role in (("ana", "bo", "first"), ("bo", "ana", "second"))
        }
        grain.webkey("key-of-referee")

        async def say(room: str, text: str) -> None:
            url = grain.bridge.url.replace("http://", "ws://") + "/relay"
            async with open_relay(url, headers=[("Authorization", "Bearer key-of-referee")]) as referee:
                joined = await referee.join(room)
                await joined.send_event(text.encode())
                await trio.sleep(0.5)

        results, _ = await two_players_in_three_rooms(grain.processes, players, say)
        second = grain.processes.relays[1].log_text()
    assert lines_starting(results["ana"], "ana resumed both connections")
    assert lines_starting(results["bo"], "ana left every room")
    # Process 1 knew each player by their webkey (the bridge's identity) and the name they gave.
    for name in ("ana", "bo"):
        assert f"connection from {name} (sandstorm)" in second


async def test_invite_links_reach_the_other_process_with_a_ticket_per_connection(
    tmp_path: Path, database_url: str
) -> None:
    # One redemption per player; before every connection (both processes, and again for each
    # resume) a ticket of its own, since a ticket opens one connection.
    with standalone_party(tmp_path / "party", database_url, relays=2) as party:
        assert party.processes is not None
        players: dict[str, dict[str, object]] = {
            name: {
                "url": party.invite(f"for {name}")["link"],
                "display_name": name,
                "process": 0,
                "peer": peer,
                "role": role,
                "reconnect": int(role == "first"),
            }
            for name, peer, role in (("ana", "bo", "first"), ("bo", "ana", "second"))
        }
        results, _ = await two_players_in_three_rooms(
            party.processes, players, partial(say_in, party.processes)
        )
        redeemed, tickets = party.requests_to("/api/v1/invites/redeem"), party.requests_to("/api/v1/tickets")
    assert lines_starting(results["ana"], "ana resumed both connections")
    assert lines_starting(results["bo"], "ana left every room")
    assert redeemed == 2
    assert tickets >= 6  # ana: 2 connections, both resumed once; bo: 2 connections


async def test_a_game_in_a_room_on_the_other_process(tmp_path: Path) -> None:
    with relay_processes(tmp_path / "party") as party:
        room, porch = party.room_on(1, "arena"), party.room_on(0, "porch")
        args = {"room": room, "porch": porch}
        results: dict[str, GodotResult] = {}

        async def play(role: str) -> None:
            run = scenario_run("live_processes_game", timeout=120, url=party.url(role), role=role, **args)
            results[role] = await run.run_async()

        release = trio.Event()
        async with trio.open_nursery() as nursery:
            # Process 1's member ids then differ from process 0's (see hold_members).
            await nursery.start(hold_members, party, 1, 2, release)
            async with trio.open_nursery() as engines:
                for role in ("host", "client"):
                    engines.start_soon(play, role)
            release.set()

    for role, result in results.items():
        assert passed(result), f"{role}: {result.describe()}"
    client_id = lines_starting(results["client"], "client: this is peer ")
    assert client_id and lines_starting(
        results["host"], f"host: the client is peer {client_id[0].split()[-1]}"
    )
    assert lines_starting(results["host"], "host left the game")
    assert lines_starting(results["client"], "client: server_disconnected")
