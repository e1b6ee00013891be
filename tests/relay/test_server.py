"""The relay over real sockets: HTTP, the upgrade, identity, framing, closing."""

from __future__ import annotations

import pytest
import trio

from common.identity import PERM_HOST, Identity
from common.secretfiles import mint_ticket, ticket_key
from relay.protocol import (
    Close,
    Goodbye,
    Join,
    Lifetime,
    ObjectInfo,
    Result,
    Rule,
    Spawn,
    State,
    Synced,
    Update,
)
from relay.server import ws_frame
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient, Rejected, http_get


async def test_healthz_and_unknown_paths(relay: RunningRelay) -> None:
    assert await http_get(relay.port, "/healthz") == (200, {"status": "ok", "database": "disabled"})
    status, body = await http_get(relay.port, "/nope")
    assert status == 404 and "error" in body
    status, body = await http_get(relay.port, "/relay")  # not an upgrade
    assert status == 400 and "WebSocket" in body["error"]


async def test_garbage_instead_of_http_gets_a_json_400(relay: RunningRelay) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", relay.port)
    await stream.send_all(b"\x16\x03\x01 this is not http\r\n\r\n")
    data = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400") and b'"error"' in data


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/relay", 401),
        ("/relay?ticket=v1.bogus.bogus", 401),
        ("/relay?ticket=", 401),
    ],
)
async def test_upgrades_without_valid_credentials_are_refused(
    relay: RunningRelay, target: str, status: int
) -> None:
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, target)
    assert err.value.status == status and "error" in err.value.body


async def test_expired_and_foreign_tickets_are_refused(relay: RunningRelay) -> None:
    expired = relay.ticket("alice", ttl=-5)
    with pytest.raises(Rejected, match="expired"):
        await RawClient.connect(relay.port, f"/relay?ticket={expired}")
    foreign = mint_ticket(b"k" * 32, Identity("u", "n", frozenset({"play"}), "t"))
    with pytest.raises(Rejected, match="signature"):
        await RawClient.connect(relay.port, f"/relay?ticket={foreign}")


async def test_identity_without_play_permission_is_forbidden(relay: RunningRelay) -> None:
    ticket = relay.ticket("lurker", perms=frozenset())
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, f"/relay?ticket={ticket}")
    assert err.value.status == 403


async def test_ticket_in_the_authorization_header_works(relay: RunningRelay) -> None:
    ticket = relay.ticket("alice")
    client = await RawClient.connect(relay.port, "/relay", [("Authorization", f"Bearer {ticket}")])
    welcome = await client.hello()
    session = relay.server.core.sessions[welcome.member]
    assert session.name == "alice" and session.identity.source == "ticket"


async def test_sandstorm_mode_trusts_the_bridge_headers(start_relay: StartRelay) -> None:
    relay = await start_relay(mode="sandstorm")
    headers = [
        ("X-Sandstorm-Tab-Id", "tab1"),
        ("X-Sandstorm-Permissions", "play,host"),
        ("X-Sandstorm-Username", "Al"),
    ]
    client = await RawClient.connect(relay.port, "/relay", headers)
    welcome = await client.hello()
    session = relay.server.core.sessions[welcome.member]
    assert session.name == "Al" and session.identity.is_host and session.identity.source == "sandstorm"
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('x')}")  # no bridge headers
    assert err.value.status == 401
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, "/relay", [("X-Sandstorm-Tab-Id", "tab2")])  # no permission
    assert err.value.status == 403


async def test_standalone_mode_ignores_sandstorm_headers(relay: RunningRelay) -> None:
    headers = [("X-Sandstorm-Tab-Id", "tab1"), ("X-Sandstorm-Permissions", "play,host")]
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, "/relay", headers)
    assert err.value.status == 401


async def test_text_messages_are_a_protocol_error_for_their_sender_only(relay: RunningRelay) -> None:
    good = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('good')}")
    bad = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('bad')}")
    await good.hello()
    await bad.hello()
    await bad.send_text("hello?")
    code, reason = await bad.closed()
    assert code == Close.PROTOCOL_ERROR and "text" in reason
    assert any(isinstance(r, Goodbye) and r.code == Close.PROTOCOL_ERROR for r in bad.records)
    await good.send_records(Join(1, "lobby"))
    await good.until(lambda r: isinstance(r, Synced))


async def test_oversized_messages_close_the_connection(relay: RunningRelay) -> None:
    client = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('big')}")
    await client.hello()
    await client.send(b"\x02\x04\x00" + b"\x00" * 70_000)
    code, reason = await client.closed()
    assert code == Close.PROTOCOL_ERROR and "65535" in reason


async def test_unmasked_client_frames_are_refused(relay: RunningRelay) -> None:
    client = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('raw')}")
    await client.hello()
    await client.stream.send_all(ws_frame(b"\x02\x04\x00\x01\x00\x00\x00"))  # servers' frames are unmasked
    code, reason = await client.closed()
    assert code == Close.PROTOCOL_ERROR and "masked" in reason


async def test_every_server_message_fits_a_stock_godot_client(relay: RunningRelay) -> None:
    owner = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('owner')}")
    await owner.hello()
    await owner.send_records(Join(1, "lobby"))
    await owner.until(lambda r: isinstance(r, Synced))
    spawns = [Spawn(100 + i, 1, Rule.ALLOW, Lifetime.WITH_MASTER, None, bytes([i]) * 3000) for i in range(60)]
    for i in range(0, 60, 15):
        await owner.send_records(*spawns[i : i + 15])
    await owner.until(lambda r: isinstance(r, Result) and r.req == 159)
    late = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('late')}")
    await late.hello()
    await late.send_records(Join(1, "lobby"))
    await late.until(lambda r: isinstance(r, Synced))
    assert len([r for r in late.records if isinstance(r, ObjectInfo)]) == 60
    assert len(late.messages) >= 3
    assert max(len(m) for m in late.messages + owner.messages) <= 65535


async def test_client_close_1000_ends_the_session_other_drops_keep_it(relay: RunningRelay) -> None:
    a = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('a')}")
    b = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('b')}")
    # The Godot addon's own close codes (PROTOCOL.md §11): 4100 dropped to reconnect, 4101 the
    # relay sent something unreadable. Both are drops, not goodbyes.
    c = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('c')}")
    d = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('d')}")
    wa, wb, wc, wd = await a.hello(), await b.hello(), await c.hello(), await d.hello()
    core = relay.server.core
    from wsproto.events import CloseConnection

    await a.stream.send_all(a.ws.send(CloseConnection(code=1000)))
    await a.closed()
    await b.stream.aclose()  # no close frame: a dropped connection
    for client, code in ((c, 4100), (d, 4101)):
        await client.stream.send_all(client.ws.send(CloseConnection(code=code, reason="client")))
        assert (await client.closed())[0] == code  # the relay answers the close with its code
    kept = (wb.member, wc.member, wd.member)
    with trio.fail_after(10):
        while wa.member in core.sessions or any(core.sessions[m].connected for m in kept):
            await trio.sleep(0.01)
    assert all(m in core.sessions for m in kept)  # in their grace window


async def test_updates_flow_between_raw_clients(relay: RunningRelay) -> None:
    a = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('a')}")
    b = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('b')}")
    await a.hello()
    await b.hello()
    await a.send_records(Join(1, "lobby"), Spawn(2, 1, Rule.DENY, Lifetime.WITH_MASTER, None, b"x"))
    await a.until(lambda r: isinstance(r, Result) and r.req == 2)
    await b.send_records(Join(1, "lobby"))
    await b.until(lambda r: isinstance(r, Synced))
    await a.send_records(Update(1, 1, 1, None, b"moved"))
    await b.until(lambda r: isinstance(r, State) and r.state == b"moved")


async def test_relay_answers_websocket_pings(relay: RunningRelay) -> None:
    from wsproto.events import Ping, Pong

    client = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('p')}")
    await client.stream.send_all(client.ws.send(Ping(b"abc")))
    with trio.fail_after(10):
        while True:
            client.ws.receive_data(await client.stream.receive_some(4096))
            if any(isinstance(e, Pong) and e.payload == b"abc" for e in client.ws.events()):
                break


async def test_host_permission_travels_to_members(relay: RunningRelay) -> None:
    host = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('h', host=True)}")
    welcome = await host.hello()
    session = relay.server.core.sessions[welcome.member]
    assert session.permissions == 3 and PERM_HOST in session.identity.permissions
    assert ticket_key(relay.config)
