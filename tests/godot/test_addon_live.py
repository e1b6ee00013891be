"""The addon in real engines against a live relay (`python -m relay`, standalone, tickets).

Each test starts engine clients running one scenario of tests/godot/projects/addon/scenarios
(live_*.gd) at once; they coordinate through the relay itself (events), check what they see,
print what they did and quit with 0 only when every check passed. The tests read the exit
codes and the printed lines; scenarios that race (the Allow grab) are judged here, where all
the players' lines meet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from common.identity import sandstorm_user_id
from tests.godot.addon import lines_starting, passed, run_scenario_async, scenario_run
from tests.godot.live import LiveRelay, live_relay, sandstorm_party, start_and_wait_for
from tests.support.bridge import tab_id_for_token
from tests.support.godot_engine import GodotResult
from tests.support.matching import fullmatch

pytestmark = [
    pytest.mark.usefixtures("godot_engine"),
    pytest.mark.slow,
]


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[LiveRelay]:
    with live_relay(tmp_path / "relay") as running:
        yield running


async def run_together(runs: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, GodotResult]:
    """Runs engines at once: name -> (scenario, arguments)."""
    results: dict[str, GodotResult] = {}

    async def one(name: str, scenario: str, args: dict[str, Any]) -> None:
        results[name] = await run_scenario_async(scenario, **args)

    async with trio.open_nursery() as nursery:
        for name, (scenario, args) in runs.items():
            nursery.start_soon(one, name, scenario, args)
    return results


def assert_passed(results: dict[str, GodotResult]) -> None:
    for name, result in results.items():
        assert passed(result), f"{name}: {result.describe()}"


async def test_two_players_see_each_other_and_a_dropped_connection_resumes(relay: LiveRelay) -> None:
    now_ms = int(time.time() * 1000)
    common = {"now_ms": now_ms}
    results = await run_together(
        {
            "alice": (
                "live_pair",
                {
                    **common,
                    "url": relay.url("alice"),
                    "name": "alice",
                    "peer": "bob",
                    "z": 1,
                    "peer_z": 2,
                    "reconnect": 1,
                },
            ),
            "bob": (
                "live_pair",
                {**common, "url": relay.url("bob"), "name": "bob", "peer": "alice", "z": 2, "peer_z": 1},
            ),
        }
    )
    assert_passed(results)
    alice, bob = results["alice"], results["bob"]
    member = {name: int(lines_starting(r, "member ")[0].split()[1]) for name, r in results.items()}
    assert member["alice"] != member["bob"]
    [saw] = lines_starting(alice, "saw bob as object ")
    assert saw.endswith(f" of member {member['bob']}")

    assert "bob's avatar arrived at (10.0, 0.0, 2.0)" in alice.stdout
    assert "alice's avatar arrived at (10.0, 0.0, 1.0)" in bob.stdout
    for result, peer in ((alice, "bob"), (bob, "alice")):
        assert f"taking {peer}'s avatar: NOT_ALLOWED" in result.stdout
        assert f"heard hello from {peer}" in result.stdout
        assert lines_starting(result, "rtt ")
    assert lines_starting(alice, "resumed as member") == [f"resumed as member {member['alice']}"]
    assert "saw alice leave" in bob.stdout  # her normal close ended her session at once


async def test_exactly_one_of_two_grabs_wins_under_allow(relay: LiveRelay) -> None:
    results = await run_together(
        {
            "host": ("live_grab", {"url": relay.url("host"), "role": "host", "names": "a,b"}),
            "a": ("live_grab", {"url": relay.url("a"), "role": "grabber", "name": "a"}),
            "b": ("live_grab", {"url": relay.url("b"), "role": "grabber", "name": "b"}),
        }
    )
    assert_passed(results)
    grabs = {}
    for name in ("a", "b"):
        [line] = lines_starting(results[name], "grab ")
        status, epoch, member = fullmatch(r"grab (\w+) epoch (\d+) as member (\d+)", line).groups()
        grabs[name] = (status, int(epoch), int(member))
    assert sorted(status for status, _, _ in grabs.values()) == ["COOLDOWN", "GRANTED"], grabs
    winner = next(name for name, (status, _, _) in grabs.items() if status == "GRANTED")
    _, epoch, member = grabs[winner]
    host = results["host"]
    # The host saw exactly one change of owner: to the winner, at the epoch the winner was told.
    assert f"ball owner changes: [[{member}, {epoch}]]" in host.stdout, host.describe()
    assert f"ball state: held by {winner}" in host.stdout


async def test_ask_goes_to_the_master_who_answers(relay: LiveRelay) -> None:
    results = await run_together(
        {
            "master": ("live_ask", {"url": relay.url("master"), "role": "master"}),
            "asker": ("live_ask", {"url": relay.url("asker"), "role": "asker"}),
        }
    )
    assert_passed(results)
    asker, master = results["asker"], results["master"]
    assert "asker statuses: DENIED, GRANTED, NOT_ALLOWED, OK, TIMEOUT" in asker.stdout
    asker_member = lines_starting(asker, "member ")[0].split()[1]
    assert lines_starting(master, "ask ") == [
        f"ask {n} for the lamp from member {asker_member}" for n in (1, 2, 3)
    ]
    assert "the lamp says: lit" in master.stdout
    # The Master's own operations, then the new Master's despawn.
    assert "give, set_rule, set_master: OK, OK, OK" in master.stdout
    assert "despawning the lamp as its new Master: OK" in asker.stdout
    assert "the lamp was despawned by its new Master" in master.stdout


async def test_a_late_joiner_gets_the_whole_room_then_live_updates(relay: LiveRelay) -> None:
    count = 120
    writer = scenario_run("live_late", url=relay.url("writer"), role="writer", count=count)
    async with trio.open_nursery() as nursery:
        held = await start_and_wait_for(writer, "ready", nursery)
        reader = await run_scenario_async("live_late", url=relay.url("reader"), role="reader", count=count)
    results = {"writer": held["result"], "reader": reader}
    assert_passed(results)
    [line] = lines_starting(reader, "late join: ")
    objects, size = map(int, fullmatch(r"late join: (\d+) objects, (\d+) bytes of state", line).groups())
    assert objects == count + 1
    assert size > 65535  # the snapshot could not fit one message
    assert lines_starting(reader, "live updates after joining: ")


async def test_an_avatar_travels_between_two_relays(tmp_path: Path) -> None:
    with live_relay(tmp_path / "a") as party_a, live_relay(tmp_path / "b") as party_b:
        results = await run_together(
            {
                role: ("live_travel", {"url_a": party_a.url(role), "url_b": party_b.url(role), "role": role})
                for role in ("traveller", "watcher")
            }
        )
    assert_passed(results)
    assert lines_starting(results["traveller"], "moved: OK, object ")
    assert "saw the traveller leave A and move in B" in results["watcher"].stdout


async def test_the_client_answers_pings_and_stays_connected(tmp_path: Path) -> None:
    # Pings every second and a 3 s idle timeout: an engine that stopped answering (or talking)
    # would be closed with 4007 long before the 8 s are over.
    with live_relay(tmp_path / "relay", settings={"ping_interval": 1.0, "idle_timeout": 3.0}) as relay:
        latencies: list[object] = []

        async def watch() -> None:
            while True:
                await trio.sleep(0.5)
                rooms = await trio.to_thread.run_sync(relay.admin, "/rooms/lobby")
                latencies.extend(m["latency_ms"] for m in rooms["members"] if m["name"] == "idler")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            result = await run_scenario_async("live_keepalive", url=relay.url("idler"), seconds=8)
            nursery.cancel_scope.cancel()
    assert passed(result), result.describe()
    assert "member 1, ping interval 1000 ms, idle timeout 3000 ms" in result.stdout
    assert "stayed connected as member 1" in result.stdout
    # The relay measures latency from the PONGs that answer its own PINGs.
    assert any(isinstance(latency, float) for latency in latencies), latencies


async def test_two_players_join_with_sandstorm_webkeys_under_the_names_they_gave(
    tmp_path: Path, database_url: str
) -> None:
    # Keys made for sharing carry no name ("Anonymous User"): each client puts the player's name
    # on their account through the key (the token in the path, as web exports do) before joining,
    # and the relay names them after it. The same key reconnecting is the same player, so the
    # session resumes.
    with sandstorm_party(tmp_path / "grain", database_url) as party:
        webkeys = {name: party.webkey(f"key-of-{name}") for name in ("alice", "bob")}
        common = {"now_ms": int(time.time() * 1000)}
        results = await run_together(
            {
                "alice": (
                    "live_pair",
                    {
                        "url": webkeys["alice"],
                        "name": "alice",
                        "display_name": "alice",
                        "peer": "bob",
                        "z": 1,
                        "peer_z": 2,
                        "reconnect": 1,
                        **common,
                    },
                ),
                "bob": (
                    "live_pair",
                    {
                        "url": webkeys["bob"],
                        "name": "bob",
                        "display_name": "bob",
                        "peer": "alice",
                        "z": 2,
                        "peer_z": 1,
                        **common,
                    },
                ),
            }
        )
        accounts = await trio.to_thread.run_sync(party.display_names)
        relay_log = party.relay.log_text()
    assert_passed(results)
    assert lines_starting(results["alice"], "resumed as member ")
    # Bob knew Alice by the name she gave (the relay's MEMBER_JOINED), and she him.
    assert "saw alice leave" in results["bob"].stdout
    for name in ("alice", "bob"):
        assert accounts[sandstorm_user_id("tab:" + tab_id_for_token(f"key-of-{name}"))] == name
        assert f"connection from {name} (sandstorm)" in relay_log
    assert "Anonymous User" not in relay_log


async def test_after_a_relay_restart_the_client_comes_back_and_respawns_its_avatar(relay: LiveRelay) -> None:
    run = scenario_run("live_restart", url=relay.url("phoenix"))
    async with trio.open_nursery() as nursery:
        held = await start_and_wait_for(run, "ready", nursery)
        await trio.to_thread.run_sync(relay.restart)
    result = held["result"]
    assert passed(result), result.describe()
    [line] = lines_starting(result, "respawned after the restart: ")
    assert line.startswith("respawned after the restart: [1, 1] -> [")
    assert relay.admin("/rooms/lobby")["members"] == []  # it left normally at the end


async def test_a_party_that_never_answers_is_given_up_on() -> None:
    held: list[trio.SocketStream] = []

    async def hold(stream: trio.SocketStream) -> None:  # accept, read nothing, answer nothing
        held.append(stream)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(partial(trio.serve_tcp, hold, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        result = await run_scenario_async("silent", url=f"ws://127.0.0.1:{port}/relay")
        nursery.cancel_scope.cancel()
    assert passed(result), result.describe()
    assert len(held) == 2
    assert lines_starting(result, "gave up: ") == [
        f"gave up: The party at ws://127.0.0.1:{port}/relay did not answer. (gave up after 2 attempts)"
    ]
