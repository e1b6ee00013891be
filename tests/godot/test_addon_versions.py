"""What the addon needs from Godot is in Godot 4.3: checked by reading its GDScript, not by running it.

Only the Godot 4.6 engine runs here (`tests/godot/README.md` §Other Godot versions says why), so
the claim of 4.3 to 4.6 (the addon, the demo and the port example under `godot/`) rests on these
checks for what a 4.3 engine would refuse: GDScript syntax added after 4.3, and the virtuals of
`MultiplayerPeerExtension` that `SoireeMultiplayerPeer` overrides. Each fact names its public source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GODOT = Path(__file__).resolve().parents[2] / "godot"
ADDON = GODOT / "addons" / "soiree"

# GDScript syntax that a Godot 4.3 engine does not parse: (what, first version, pattern, source).
NEWER_SYNTAX = (
    (
        "a typed dictionary",
        "4.4",
        re.compile(r"\bDictionary\s*\["),
        "GDScript reference, 'Typed dictionaries': 'Godot 4.4 added support for typed dictionaries' "
        "(godotengine/godot-docs: tutorials/scripting/gdscript/gdscript_basics.rst)",
    ),
    (
        "a variadic function",
        "4.5",
        re.compile(r"\.\.\.\s*[A-Za-z_]"),
        "GDScript reference, 'Variadic functions', written for 4.5 (godotengine/godot-docs#11501, "
        "cherry-picked to 4.5)",
    ),
    (
        "@abstract",
        "4.5",
        re.compile(r"@abstract\b"),
        "the annotation exists from Godot 4.5 on (godotengine/godot#106409, #107717)",
    ),
)

# Every virtual of MultiplayerPeerExtension that a script implements, with its argument count, as
# Godot 4.3's class reference lists them
# (https://docs.godotengine.org/en/4.3/classes/class_multiplayerpeerextension.html; `_get_packet`
# and `_put_packet` take native pointers and are for GDExtensions). The reference of 4.6
# (https://docs.godotengine.org/en/stable/classes/class_multiplayerpeerextension.html) lists the
# same ones.
PEER_VIRTUALS_4_3 = {
    "_close": 0,
    "_disconnect_peer": 2,
    "_get_available_packet_count": 0,
    "_get_connection_status": 0,
    "_get_max_packet_size": 0,
    "_get_packet_channel": 0,
    "_get_packet_mode": 0,
    "_get_packet_peer": 0,
    "_get_packet_script": 0,
    "_get_transfer_channel": 0,
    "_get_transfer_mode": 0,
    "_get_unique_id": 0,
    "_is_refusing_new_connections": 0,
    "_is_server": 0,
    "_is_server_relay_supported": 0,
    "_poll": 0,
    "_put_packet_script": 1,
    "_set_refuse_new_connections": 1,
    "_set_target_peer": 1,
    "_set_transfer_channel": 1,
    "_set_transfer_mode": 1,
}

_STRING_START = re.compile(r'[rR]?(?:"""|\'\'\'|"|\')')
_FUNC = re.compile(r"^\s*(?:static\s+)?func\s+(\w+)\s*\(([^)]*)\)", re.MULTILINE)


def code_only(source: str) -> str:
    """The source with comments and the insides of string literals blanked (lines kept)."""
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "#":
            end = source.find("\n", i)
            end = len(source) if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        match = _STRING_START.match(source, i) if ch in "\"'rR" else None
        if match and (ch in "\"'" or i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_")):
            quote = match.group().lstrip("rR")
            raw = match.group() != quote
            j = match.end()
            while j < len(source) and not source.startswith(quote, j):
                j += 2 if source[j] == "\\" and not raw else 1
            end = min(j + len(quote), len(source))
            inside = source[match.end() : j]
            out.append(match.group() + re.sub(r"[^\n]", " ", inside) + source[j:end])
            i = end
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def newer_syntax(source: str) -> list[str]:
    """What in `source` a Godot 4.3 engine would not parse, one line per finding."""
    code = code_only(source)
    found = []
    for what, version, pattern, _source in NEWER_SYNTAX:
        for match in pattern.finditer(code):
            line = code.count("\n", 0, match.start()) + 1
            found.append(f"line {line}: {what} (Godot {version}+)")
    return found


def shipped_scripts() -> list[Path]:
    """The addon, the demo and the port example: what players and developers open in their Godot."""
    return sorted(GODOT.rglob("*.gd"))


def test_the_addon_has_scripts_to_check() -> None:
    names = {path.relative_to(GODOT).as_posix() for path in shipped_scripts()}
    addon = {f"addons/soiree/{name}.gd" for name in ("multiplayer_peer", "authority", "protocol", "session")}
    assert addon | {"demo/main.gd", "examples/port/arena.gd"} <= names


@pytest.mark.parametrize("script", shipped_scripts(), ids=lambda path: path.relative_to(GODOT).as_posix())
def test_no_syntax_newer_than_godot_4_3(script: Path) -> None:
    assert newer_syntax(script.read_text()) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("var seen: Dictionary[String, int] = {}\n", ["line 1: a typed dictionary (Godot 4.4+)"]),
        (
            "\n\nfunc log_all(first, ...rest: Array) -> void:\n\tpass\n",
            ["line 3: a variadic function (Godot 4.5+)"],
        ),
        ("@abstract\nclass_name Shape\n", ["line 1: @abstract (Godot 4.5+)"]),
        # Comments and strings say what they like; only code counts.
        ('# Dictionary[String, int] and ...rest\nvar s := "@abstract ...x Dictionary[a, b]"\n', []),
        ('var s := """a\n...rest " Dictionary["""\nvar d: Dictionary = {}\n', []),
        ("var path := r\"C:\\\\x\" # Dictionary[\nvar ok := 'it\\'s ...fine'\n", []),
    ],
)
def test_the_syntax_check_finds_what_4_3_refuses(source: str, expected: list[str]) -> None:
    assert newer_syntax(source) == expected


def test_the_peer_implements_the_virtuals_of_godot_4_3() -> None:
    code = code_only((ADDON / "multiplayer_peer.gd").read_text())
    assert re.search(r"^extends\s+MultiplayerPeerExtension\b", code, re.MULTILINE)
    defined = {
        name: len([arg for arg in args.split(",") if arg.strip()])
        for name, args in _FUNC.findall(code)
        if name in PEER_VIRTUALS_4_3
    }
    assert defined == PEER_VIRTUALS_4_3
