"""The addon's I/O-free parts in the real engine: links, the session fed by hand, the sync node,
SoireeMultiplayerPeer and SoireeAuthority under real SceneMultiplayers with a room double.

One engine run holds the scenarios (tests/godot/projects/addon/scenarios/); each test checks its
own part of the output.
"""

from __future__ import annotations

import re

import pytest

from tests.godot.addon import run_scenario
from tests.support.godot_engine import GodotResult

SCENARIOS = ("links", "session", "sync", "peer", "authority")


@pytest.fixture(scope="module")
def logic_run(godot_engine: object) -> GodotResult:
    return run_scenario(",".join(SCENARIOS), timeout=120)


def section(result: GodotResult, name: str) -> list[str]:
    """The lines a scenario printed, from its "== name" line to the next scenario's."""
    lines = result.stdout
    start = lines.index(f"== {name}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")), len(lines))
    return lines[start + 1 : end]


def check_scenario(result: GodotResult, name: str, least_checks: int) -> list[str]:
    assert f"== {name}" in result.stdout, result.describe()
    lines = section(result, name)
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
    counts = [re.fullmatch(r"checks: (\d+), failures: (\d+)", line) for line in lines]
    found = [m for m in counts if m]
    assert found, result.describe()
    checks, failed = int(found[-1][1]), int(found[-1][2])
    assert failed == 0 and checks >= least_checks, lines
    return lines


def test_the_run_ends_well(logic_run: GodotResult) -> None:
    assert logic_run.exit_code == 0, logic_run.describe()
    assert not logic_run.parse_errors


def test_links(logic_run: GodotResult) -> None:
    lines = check_scenario(logic_run, "links", least_checks=80)
    assert "links: 5 good, 13 bad" in lines


def test_session_driven_by_hand(logic_run: GodotResult) -> None:
    check_scenario(logic_run, "session", least_checks=70)


def test_sync_node(logic_run: GodotResult) -> None:
    check_scenario(logic_run, "sync", least_checks=30)


def test_multiplayer_peer_driven_by_hand(logic_run: GodotResult) -> None:
    """Ids, signals and their order, RPCs both ways, targets 0 and -id, dedupe, lanes, the sync
    time, fragments, departures after their last packets, the host leaving, mesh mode,
    disconnect_peer, refuse_new_connections, HOST_TAKEN, a failed create, no host, a relay that
    speaks only version 1, create_client for real against a party that is not there."""
    check_scenario(logic_run, "peer", least_checks=120)


def test_authority_follows_ownership(logic_run: GodotResult) -> None:
    """Find or spawn (lowest id wins), the owner's authority everywhere, a grab's order against
    the old owner's packets, a forged state ignored, give, release, an Ask, the Master leaving,
    host mode."""
    check_scenario(logic_run, "authority", least_checks=28)


@pytest.mark.usefixtures("godot_engine")
def test_an_unknown_scenario_fails() -> None:
    result = run_scenario("nothing-here", timeout=60)
    assert result.exit_code == 2 and "FAIL: no scenario at res://scenarios/nothing-here.gd" in result.stdout
