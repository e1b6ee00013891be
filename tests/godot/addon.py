"""Running the Soirée addon's test scenarios (tests/godot/projects/addon) in the real engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.support.godot_engine import (
    GodotResult,
    GodotRun,
    project_run,
    run_godot_project,
    run_godot_project_async,
)

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "godot" / "addons" / "soiree"
DEMO = ROOT / "godot"
PROJECT = Path(__file__).with_name("projects") / "addon"
VECTORS = Path(__file__).with_name("vectors")
MOUNTS = {"addons/soiree": ADDON, "vectors": VECTORS}


def scenario_args(scenario: str, **args: object) -> list[str]:
    return [f"scenario={scenario}", *(f"{key}={value}" for key, value in args.items())]


def run_scenario(scenario: str, timeout: float = 120, **args: object) -> GodotResult:
    return run_godot_project(PROJECT, args=scenario_args(scenario, **args), extra=MOUNTS, timeout=timeout)


async def run_scenario_async(scenario: str, timeout: float = 120, **args: object) -> GodotResult:
    return await run_godot_project_async(
        PROJECT, args=scenario_args(scenario, **args), extra=MOUNTS, timeout=timeout
    )


def scenario_run(scenario: str, timeout: float = 120, **args: object) -> GodotRun:
    """An engine run not yet started, for tests that watch its output while it runs."""
    return project_run(PROJECT, scenario_args(scenario, **args), extra=MOUNTS, timeout=timeout)


def passed(result: GodotResult) -> bool:
    return result.exit_code == 0 and not any(line.startswith("FAIL") for line in result.stdout)


def lines_starting(result: GodotResult | Sequence[tuple[str, str]], prefix: str) -> list[str]:
    output = result.output if isinstance(result, GodotResult) else result
    return [text for stream, text in output if stream == "out" and text.startswith(prefix)]
