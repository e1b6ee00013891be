"""Placement: which relay process holds a room (common/placement.py)."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from common.config import MAX_RELAYS, STACK_PORTS, Config, ConfigError, stack_ports
from common.placement import HOME, HOME_ROOM, index_of_path, place, relay_path

NAMES = [f"room-{n}" for n in range(2000)]


def test_one_process_holds_every_room() -> None:
    assert {place(name, 1) for name in NAMES} == {HOME}


def test_the_home_room_is_on_the_process_behind_the_plain_path() -> None:
    for count in range(1, MAX_RELAYS + 1):
        assert place(HOME_ROOM, count) == HOME
    assert relay_path(HOME) == "/relay"


def test_rooms_spread_evenly_and_the_answer_never_changes() -> None:
    spread = Counter(place(name, 4) for name in NAMES)
    assert set(spread) == {0, 1, 2, 3}
    assert all(400 < n < 600 for n in spread.values()), spread
    assert [place(name, 4) for name in NAMES] == [place(name, 4) for name in NAMES]
    # Fixed answers (SHA-256 of "<index>:<name>", highest first 8 bytes wins): another
    # implementation (another machine, another language) must give exactly these.
    names = ("a", "b", "party", "world-2", "lobby-2", "x")
    assert [place(name, 3) for name in names] == [2, 2, 0, 2, 0, 0]


def test_adding_a_process_moves_only_rooms_to_the_new_one() -> None:
    for count in range(1, MAX_RELAYS):
        moved = [name for name in NAMES if place(name, count) != place(name, count + 1)]
        assert all(place(name, count + 1) == count for name in moved)
        share = len(moved) / len(NAMES)
        assert abs(share - 1 / (count + 1)) < 0.05, (count, share)


def test_paths_name_processes_and_nothing_else() -> None:
    assert [relay_path(i) for i in range(3)] == ["/relay", "/relay/1", "/relay/2"]
    assert [index_of_path(relay_path(i), 3) for i in range(3)] == [0, 1, 2]
    for path in ("/relay/3", "/relay/01", "/relay/-1", "/relay/x", "/relay/", "/relays", "/relay/1/2"):
        assert index_of_path(path, 3) is None, path


def test_a_process_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        place("room", 0)


def test_relay_processes_get_ports_of_their_own() -> None:
    cfg = Config.from_env({"SOIREE_PORT": "9000", "SOIREE_RELAYS": "3"})
    assert cfg.relays == 3 and cfg.relay_index == 0
    assert cfg.relay_ports(0) == (cfg.relay_port, cfg.relay_admin_port)
    ports = [p for i in range(3) for p in cfg.relay_ports(i)]
    others = [cfg.port, cfg.api_port, cfg.app_port, cfg.db_port, cfg.db_http_port]
    assert len(set(ports + others)) == len(ports + others)
    assert all(9000 <= p < 9000 + stack_ports(3) for p in ports + others)
    assert cfg.relay_admin_ports == [cfg.relay_ports(i)[1] for i in range(3)]
    assert stack_ports(1) == STACK_PORTS


def test_relay_count_and_index_come_from_the_environment() -> None:
    assert Config.from_env({}).relays == 1
    auto = Config.from_env({"SOIREE_RELAYS": "auto"}).relays
    assert auto == max(1, min(os.cpu_count() or 1, MAX_RELAYS))
    assert Config.from_env({"SOIREE_RELAYS": "2", "SOIREE_RELAY_INDEX": "1"}).relay_index == 1


@pytest.mark.parametrize(
    "env",
    [
        {"SOIREE_RELAYS": "0"},
        {"SOIREE_RELAYS": str(MAX_RELAYS + 1)},
        {"SOIREE_RELAYS": "two"},
        {"SOIREE_RELAYS": "2", "SOIREE_RELAY_INDEX": "2"},
        {"SOIREE_RELAY_INDEX": "-1"},
    ],
)
def test_bad_relay_settings_are_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Config.from_env(env)
