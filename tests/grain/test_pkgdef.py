"""The Sandstorm package, checked offline as far as it can be (docs/sandstorm.md §Package definition).

The package definition is compiled by the real Cap'n Proto compiler against a subset of
Sandstorm's schema (tests/grain/sandstorm-schema), then checked against the rules ``spk``
enforces beyond types. `spk pack` and `vagrant-spk verify` in the VM remain the final word.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.pkgdef import PKGDEF, ROOT, capnp_eval, load_pkgdef

SANDSTORM = ROOT / ".sandstorm"
APP_ID = re.compile(r"^[0123456789acdefghjkmnpqrstuvwxyz]{52}$")  # spk's base32 of a public key


@pytest.fixture(scope="module")
def pkgdef() -> dict[str, Any]:
    return load_pkgdef()


def test_the_root_definition_is_the_one_vagrant_spk_reads() -> None:
    root = ROOT / "sandstorm-pkgdef.capnp"
    assert root.is_symlink() and root.resolve() == PKGDEF.resolve()


def test_spk_rules_beyond_the_types(pkgdef: dict[str, Any]) -> None:
    manifest = pkgdef["manifest"]
    assert manifest["appTitle"]["defaultText"] and manifest["appMarketingVersion"]["defaultText"]
    assert manifest.get("minApiVersion", 0) == 0 and manifest.get("maxApiVersion", 0) == 0
    bridge = pkgdef["bridgeConfig"]
    assert bridge["apiPath"].endswith("/")
    view = bridge["viewInfo"]
    names = [p["name"] for p in view["permissions"]]
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", n) for n in names)
    assert all(len(role["permissions"]) <= len(names) for role in view["roles"])
    metadata = manifest["metadata"]
    for key in ("website", "codeUrl"):
        assert re.match(r"https?://", metadata.get(key, "https://")), key
    assert not any(path.startswith("/") for path in pkgdef["alwaysInclude"])
    assert APP_ID.match(pkgdef["id"])


def test_the_manifest_fits_in_its_size_limit() -> None:
    assert len(capnp_eval("pkgdef.manifest", "--binary")) < 8 * 1024 * 1024


def test_every_grain_start_runs_the_launcher_behind_the_bridge(pkgdef: dict[str, Any]) -> None:
    manifest = pkgdef["manifest"]
    command = manifest["continueCommand"]
    assert [action["command"] for action in manifest["actions"]] == [command]  # new grain == continue
    assert command["argv"] == [
        "/sandstorm-http-bridge",
        "8000",
        "--",
        "/bin/bash",
        "/opt/app/.sandstorm/launcher.sh",
    ]
    environ = {kv["key"]: kv["value"] for kv in command["environ"]}
    assert environ == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "SANDSTORM": "1",
        "HOME": "/var",
        "LANG": "C.UTF-8",
    }
    launcher = (SANDSTORM / "launcher.sh").read_text()
    assert "exec /bin/bash /opt/app/launcher.sh" in launcher


def test_roles_and_permissions(pkgdef: dict[str, Any]) -> None:
    view = pkgdef["bridgeConfig"]["viewInfo"]
    assert [p["name"] for p in view["permissions"]] == ["host", "play"]  # append only: ids are positions
    roles = {r["title"]["defaultText"]: r for r in view["roles"]}
    assert roles["host"]["permissions"] == [True, True]
    assert roles["player"]["permissions"] == [False, True] and roles["player"]["default"]
    assert pkgdef["bridgeConfig"]["apiPath"] == "/"  # /api/v1 and /relay reach the app unchanged


def test_metadata_and_icons(pkgdef: dict[str, Any]) -> None:
    metadata = pkgdef["manifest"]["metadata"]
    assert metadata["license"] == {"openSource": "mit"}
    assert metadata["categories"] == ["games"]
    assert metadata["shortDescription"]["defaultText"] and metadata["description"]["defaultText"]
    assert metadata["author"]
    for size, icon in (("128", "appGrid"), ("24", "grain"), ("150", "market"), ("300", "marketBig")):
        svg = metadata["icons"][icon]["svg"]
        assert svg == (SANDSTORM / "app-graphics" / f"soiree-{size}.svg").read_text()
        assert svg.lstrip().startswith("<svg") and f'width="{size}"' in svg


def test_the_package_holds_what_is_loaded_lazily(pkgdef: dict[str, Any]) -> None:
    always = set(pkgdef["alwaysInclude"])
    assert {"opt/app-venv", "opt/cockroach", "usr/share/zoneinfo", "opt/app/app"} <= always
    for path in always:
        if path.startswith("opt/app/"):
            assert (ROOT / path.removeprefix("opt/app/")).exists(), path
    hidden = next(m for m in pkgdef["sourceMap"]["searchPath"] if m.get("sourcePath") == "/")["hidePaths"]
    assert {"etc/passwd", "etc/hosts", "proc", "opt/app/.git", "opt/app/.venv", "opt/app/var"} <= set(hidden)
    assert pkgdef["fileList"] == "sandstorm-files.list" and (SANDSTORM / "sandstorm-files.list").exists()


def test_a_typo_in_the_definition_is_caught(tmp_path: Path) -> None:
    """The check above would notice a broken file: the compiler rejects unknown fields."""
    broken = tmp_path / "sandstorm-pkgdef.capnp"
    broken.write_text(PKGDEF.read_text().replace("saveIdentityCaps", "saveIdentityCapz"))
    (tmp_path / "app-graphics").symlink_to(SANDSTORM / "app-graphics")
    (tmp_path / "description.md").symlink_to(SANDSTORM / "description.md")
    result = subprocess.run(
        [
            "capnp",
            "eval",
            "--no-standard-import",
            f"-I{ROOT / 'tests/grain/sandstorm-schema'}",
            str(broken),
            "pkgdef",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "saveIdentityCapz" in result.stderr


def test_vagrant_spk_scripts_are_valid_bash_and_pin_cockroachdb() -> None:
    for name in ("setup.sh", "build.sh", "launcher.sh", "global-setup.sh"):
        script = SANDSTORM / name
        assert script.stat().st_mode & 0o111, f"{name} is not executable"
        subprocess.run(["bash", "-n", str(script)], check=True)
    setup = (SANDSTORM / "setup.sh").read_text()
    version = re.search(r"^COCKROACH_VERSION=(23\.1\.\d+)$", setup, re.M)
    digest = re.search(r"^COCKROACH_SHA256=([0-9a-f]{64})$", setup, re.M)
    assert version and digest
    assert "sha256sum --check" in setup and "CockroachDB Software License" in setup
    vagrantfile = (SANDSTORM / "Vagrantfile").read_text()
    assert '"/opt/app"' in vagrantfile and "6090" in vagrantfile and "setup.sh" in vagrantfile
    build = (SANDSTORM / "build.sh").read_text()
    assert "--require-hashes" in build and "/opt/app-venv" in build


def test_the_grain_dependencies_are_pinned_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned: dict[str, str] = {}
    text = (SANDSTORM / "requirements.txt").read_text()
    for block in re.split(r"\n(?=\S)", text):
        first = block.splitlines()[0]
        if first.startswith("#") or not first.strip():
            continue
        name, version = first.split(" ")[0].split("==")
        pinned[canonicalize_name(name)] = version
        assert "--hash=sha256:" in block, name
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not pinned in .sandstorm/requirements.txt"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} vs {requirement.specifier}"
        )
