"""The harness runs GDScript in the real Godot 4.6 engine and reports what really happened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio

from tests.support.godot_engine import GodotRun, browser_processes, process_group_alive, run_godot_project
from tests.support.godot_project import build_project_pck

COMPUTE = Path(__file__).with_name("projects") / "compute"

pytestmark = pytest.mark.usefixtures("godot_engine")


def prime_sum(limit: int) -> int:
    return sum(n for n in range(2, limit) if all(n % d for d in range(2, int(n**0.5) + 1)))


@pytest.mark.parametrize("n", [10, 1000, 4321])
def test_a_project_computes_and_quits_with_the_code_it_chooses(n: int) -> None:
    result = run_godot_project(COMPUTE, args=[f"n={n}"])
    total = prime_sum(n)
    assert result.exit_code == total % 256, result.describe()
    assert f"sum_of_primes_below_{n}={total}" in result.stdout
    assert result.lines[0].startswith("Godot Engine v4.6.stable.official"), result.describe()
    assert not result.errors, result.describe()


def copy_of_compute(tmp_path: Path, main_gd: str | None = None) -> Path:
    project = tmp_path / "project"
    shutil.copytree(COMPUTE, project)
    if main_gd is not None:
        (project / "main.gd").write_text(main_gd)
    return project


NEVER_QUITS = 'extends Node\n\n\nfunc _ready() -> void:\n\tprint("waiting")\n'


def test_a_script_that_does_not_parse_is_reported_with_its_place(tmp_path: Path) -> None:
    project = copy_of_compute(tmp_path, "extends Node\n\n\nfunc _ready() -> void:\n\tvar total := 1 +\n")
    result = run_godot_project(project, timeout=120)
    assert result.stopped_on_parse_error and result.exit_code is None, result.describe()
    expected = 'Expected expression after "+" operator. (res://main.gd:5)'
    assert result.parse_errors == [expected], result.describe()


def test_a_parse_error_in_a_named_class_is_reported(tmp_path: Path) -> None:
    project = copy_of_compute(tmp_path)
    (project / "prime_sum.gd").write_text("class_name PrimeSum\n\n\nstatic func below(limit: int) -> int\n")
    result = run_godot_project(project, timeout=120)
    assert result.stopped_on_parse_error, result.describe()
    assert any(error.endswith("(res://prime_sum.gd:4)") for error in result.parse_errors), result.describe()


def test_a_project_that_never_quits_times_out_and_leaves_no_browser_behind(tmp_path: Path) -> None:
    project = copy_of_compute(tmp_path, NEVER_QUITS)
    run = GodotRun(build_project_pck(project), timeout=10).start()
    scratch = run.scratch_dir
    pgid = run.browser_pid
    assert scratch is not None and pgid is not None
    assert browser_processes(scratch), "the browser should be running"
    result = run.wait()
    assert result.timed_out and result.exit_code is None, result.describe()
    assert browser_processes(scratch) == []
    assert not process_group_alive(pgid)
    assert not Path(scratch).exists()


async def test_cancelling_a_run_tears_the_engine_down(tmp_path: Path) -> None:
    project = copy_of_compute(tmp_path, NEVER_QUITS)
    run = GodotRun(build_project_pck(project), timeout=300)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run.run_async)
        with trio.fail_after(120):
            while ("out", "waiting") not in run.output():
                await trio.sleep(0.1)
        scratch = run.scratch_dir
        assert scratch is not None and browser_processes(scratch)
        nursery.cancel_scope.cancel()
    assert browser_processes(scratch) == []
    assert run.scratch_dir is None and not Path(scratch).exists()
