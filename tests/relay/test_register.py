"""The registration settings of a relay on another machine (relay/register.py)."""

from __future__ import annotations

import pytest

from relay.register import HEARTBEAT, Registration, RegistrationError, room_fields

GOOD = {
    "SOIREE_API_URL": "https://party.example/",
    "SOIREE_REGISTER_TOKEN": "t0ken",
    "SOIREE_RELAY_PUBLIC_URL": "wss://relay-b.example/relay",
}


def test_no_api_url_means_no_registration() -> None:
    assert Registration.from_env({}) is None


def test_settings_make_the_room_s_shard() -> None:
    reg = Registration.from_env(GOOD)
    assert reg is not None and reg.api_url == "https://party.example" and reg.interval == HEARTBEAT
    assert room_fields(reg, "tea room", 3, 256) == {
        "shard[address]": "relay-b.example",
        "shard[port]": 443,
        "shard[name]": "tea room",
        "shard[url]": "wss://relay-b.example/relay?room=tea%20room",
        "shard[current_users]": 3,
        "shard[max_users]": 256,
    }
    local = Registration.from_env({**GOOD, "SOIREE_RELAY_PUBLIC_URL": "ws://127.0.0.1:9002/relay"})
    assert local is not None and local.address_and_port() == ("127.0.0.1", 9002)


@pytest.mark.parametrize(
    "change",
    [
        {"SOIREE_REGISTER_TOKEN": ""},
        {"SOIREE_RELAY_PUBLIC_URL": ""},
        {"SOIREE_RELAY_PUBLIC_URL": "https://relay-b.example/relay"},
        {"SOIREE_API_URL": "ftp://party.example"},
        {"SOIREE_REGISTER_INTERVAL": "soon"},
    ],
)
def test_incomplete_settings_are_a_clear_error(change: dict[str, str]) -> None:
    with pytest.raises(RegistrationError):
        Registration.from_env({**GOOD, **change})
