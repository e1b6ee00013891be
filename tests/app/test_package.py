"""What the pages rely on in the Sandstorm package definition."""

from __future__ import annotations

from app.downloads import GODOT_DIR
from app.templates import PLAYER_ROLE_ID
from tests.support.pkgdef import ROOT, load_pkgdef


def test_the_offer_templates_role_is_the_player_role() -> None:
    view = load_pkgdef()["bridgeConfig"]["viewInfo"]
    role = view["roles"][PLAYER_ROLE_ID]
    assert role["title"]["defaultText"] == "player"
    granted = [p["name"] for p, on in zip(view["permissions"], role["permissions"], strict=False) if on]
    assert granted == ["play"]


def test_the_godot_download_is_in_the_package() -> None:
    """The zip is built on request, after `vagrant-spk dev` traced the files: it must be listed."""
    assert "opt/app/godot" in load_pkgdef()["alwaysInclude"]
    assert GODOT_DIR == ROOT / "godot"
