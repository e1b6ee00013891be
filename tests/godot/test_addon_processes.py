"""The addon in real engines against a party of two relay processes behind a real front door
(Caddy routing `/relay` to process 0 and `/relay/1` to process 1): a join of a room the other
process holds is answered ELSEWHERE, and SoireeClient and SoireeMultiplayerPeer follow it over
one more connection (relay/PROTOCOL.md §4.1)."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import trio

from relay.client import open_relay
from tests.godot.addon import lines_starting, passed, scenario_run
from tests.godot.live import RelayProcesses, relay_processes
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
    """An event from a third player (the Python SDK) in `room`."""
    ticket = party.relays[0].ticket("referee")
    async with open_relay(party.url("referee").split("?")[0], ticket=ticket) as referee:
        joined = await referee.join(room)
        await joined.send_event(text.encode())
        await trio.sleep(0.5)


async def test_one_client_joins_rooms_on_both_processes_and_resumes_them(tmp_path: Path) -> None:
    with relay_processes(tmp_path / "party") as party:
        rooms = {"porch": party.room_on(0, "porch"), "attic": party.room_on(1, "attic")}
        rooms["shed"] = party.room_on(1, "shed")
        # ana's link leads to process 0 (the porch's), bo's to process 1 (as a shard list's
        # room URL does): each reaches the other process's rooms through its one client.
        runs = {
            "ana": scenario_run(
                "live_processes",
                url=party.url("ana", 0),
                process=0,
                name="ana",
                peer="bo",
                role="first",
                reconnect=1,
                **rooms,
            ),
            "bo": scenario_run(
                "live_processes",
                url=party.url("bo", 1),
                process=1,
                name="bo",
                peer="ana",
                role="second",
                **rooms,
            ),
        }
        holders: dict[str, dict[str, GodotResult]] = {name: {} for name in runs}

        async def go(name: str) -> None:
            holders[name]["result"] = await runs[name].run_async()

        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_members, party, 1, 2, release)
            for name in runs:
                nursery.start_soon(go, name)
            ids = {}
            for name, run in runs.items():
                line = await wait_for_line(run, f"{name} is member", holders[name])
                match = re.fullmatch(rf"{name} is member (\d+) in the porch and (\d+) in the attic", line)
                assert match, line
                ids[name] = (int(match[1]), int(match[2]))
                assert ids[name][0] != ids[name][1], "the test needs different ids on the two processes"
            # The relays' own view: each room on its process only, each player a member there
            # under the id its engine reported.
            porch = await trio.to_thread.run_sync(party.members, 0, rooms["porch"])
            attic = await trio.to_thread.run_sync(party.members, 1, rooms["attic"])
            assert porch == {ids["ana"][0]: "ana", ids["bo"][0]: "bo"}
            assert attic == {ids["ana"][1]: "ana", ids["bo"][1]: "bo"}
            assert sorted((await trio.to_thread.run_sync(party.members, 1, rooms["shed"])).values()) == [
                "ana",
                "bo",
            ]
            assert await trio.to_thread.run_sync(party.members, 1, rooms["porch"]) == {}
            assert await trio.to_thread.run_sync(party.members, 0, rooms["attic"]) == {}
            await say_in(party, rooms["porch"], "relays checked")
            release.set()

    results = {name: holder["result"] for name, holder in holders.items()}
    for name, result in results.items():
        assert passed(result), f"{name}: {result.describe()}"
    for name in runs:
        assert lines_starting(results[name], f"{name}: objects and events in every room")
    assert lines_starting(results["ana"], "ana resumed both connections")
    assert lines_starting(results["bo"], "ana left every room")


async def test_a_game_in_a_room_on_the_other_process(tmp_path: Path) -> None:
    with relay_processes(tmp_path / "party") as party:
        room, porch = party.room_on(1, "arena"), party.room_on(0, "porch")
        args = {"room": room, "porch": porch}
        results: dict[str, GodotResult] = {}

        async def play(role: str) -> None:
            run = scenario_run("live_processes_game", url=party.url(role), role=role, **args)
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
