"""No guest takes the party from the others (PROTOCOL.md §12.4): rooms and objects count toward
the account behind them, whatever its sessions, and the party's saved state has caps. Each
attack is played first as a guest would, then what the others can still do is checked."""

from __future__ import annotations

from relay.protocol import (
    Despawned,
    DespawnReason,
    Goodbye,
    Join,
    Leave,
    Lifetime,
    MemberLeft,
    Refused,
    Request,
    Rule,
    Spawn,
    Status,
    Update,
)
from relay.room import PersistedObject
from tests.relay.sim import Sim, SimClient


def spawn(c: SimClient, room: int, state: bytes = b"", lifetime: Lifetime = Lifetime.PERSISTENT) -> Status:
    return c.call(Spawn, room, Rule.ALLOW, lifetime, None, state).status


def test_one_account_cannot_take_every_free_room() -> None:
    sim = Sim()
    mallory = sim.client("mallory")
    # Room after room: join, leave one persistent object behind, leave.
    created = 0
    for i in range(70):
        res = mallory.call(Join, f"room-{i}")
        if res.status != Status.OK:
            break
        assert spawn(mallory, res.value) == Status.OK
        mallory.call(Leave, res.value)
        created += 1
    ada = sim.client("ada")
    assert ada.call(Join, "ada-s-room").status == Status.OK  # the party still has room for Ada
    assert created == sim.settings.player_rooms == 2
    assert res.status == Status.QUOTA
    # A second connection of the same account is the same account.
    again = sim.client("mallory")
    assert again.call(Join, "another").status == Status.QUOTA
    assert again.call(Join, "room-0").status == Status.OK  # joining a room that exists is free
    assert sim.core.quotas.of(mallory.identity.user_id).rooms == 2


def test_orphaned_objects_still_count_toward_the_account_that_spawned_them() -> None:
    sim = Sim()
    limit = sim.settings.max_saved_per_account
    spawned = 0
    for _ in range(3):  # three sessions, each closed normally: its objects become orphans
        mallory = sim.client("mallory")
        lobby = mallory.join("lobby")
        while spawned < 3 * limit and spawn(mallory, lobby, b"x" * 100) == Status.OK:
            spawned += 1
        sim.core.connection_lost(mallory.conn, sim.now, 1000)
        sim.tick()
    assert spawned == limit  # 64 persistent objects, not 3 x 128
    lobby_room = sim.core.rooms["lobby"]
    assert all(o.master == 0 for o in lobby_room.objects.values())  # orphans
    share = sim.core.quotas.of(mallory.identity.user_id)
    assert (share.objects, share.saved, share.saved_bytes) == (limit, limit, 100 * limit)
    # Others are not held to Mallory's share.
    ada = sim.client("ada")
    assert spawn(ada, ada.join("lobby")) == Status.OK


def test_every_object_counts_while_it_exists_with_master_ones_too() -> None:
    sim = Sim(max_objects_per_account=5, max_objects_per_member=100)
    a1, a2 = sim.client("ada"), sim.client("ada")  # one account, two connections
    r1, r2 = a1.join("lobby"), a2.join("lobby")
    for _ in range(3):
        assert spawn(a1, r1, lifetime=Lifetime.WITH_MASTER) == Status.OK
    for _ in range(2):
        assert spawn(a2, r2, lifetime=Lifetime.WITH_MASTER) == Status.OK
    assert spawn(a2, r2, lifetime=Lifetime.WITH_MASTER) == Status.QUOTA
    # An object handed to someone else still counts toward its spawner; despawning frees it.
    bob = sim.client("bob")
    rb = bob.join("lobby")
    first = next(iter(sim.core.rooms["lobby"].objects))
    assert bob.call(Request, rb, first).status == Status.GRANTED  # rule allow
    assert spawn(a1, r1, lifetime=Lifetime.WITH_MASTER) == Status.QUOTA
    a1.call(Leave, r1)  # its three objects go with it
    assert spawn(a2, r2, lifetime=Lifetime.WITH_MASTER) == Status.OK
    assert sim.core.quotas.of(a1.identity.user_id).objects == 3


def test_the_party_caps_saved_objects_and_saved_bytes() -> None:
    sim = Sim(max_saved_objects=4, max_saved_bytes=1000)
    ada, bob = sim.client("ada"), sim.client("bob")
    ra, rb = ada.join("lobby"), bob.join("lobby")
    assert spawn(ada, ra, b"a" * 400) == Status.OK
    assert spawn(bob, rb, b"b" * 500) == Status.OK
    assert spawn(bob, rb, b"c" * 200) == Status.QUOTA  # 1100 bytes
    assert spawn(bob, rb, b"c" * 100) == Status.OK  # 1000
    assert spawn(bob, rb, lifetime=Lifetime.WITH_MASTER) == Status.OK  # not saved: not capped
    assert spawn(ada, ra) == Status.OK  # 4 saved
    assert spawn(ada, ra) == Status.QUOTA
    # Growing a saved state is refused once the party is full; shrinking always works.
    room = sim.core.rooms["lobby"]
    big = next(o.id for o in room.objects.values() if o.state == b"a" * 400)
    ada.send(Update(ra, big, 1, None, b"a" * 401))
    sim.tick()
    ada.read()
    assert ada.of(Refused)[-1] == Refused(ra, big, 1, Status.QUOTA)
    assert room.objects[big].state == b"a" * 400
    ada.send(Update(ra, big, 1, None, b"a" * 10))
    sim.tick()
    assert room.objects[big].state == b"a" * 10
    q = sim.core.quotas
    assert (q.saved, q.saved_bytes) == (4, 610)
    assert q.of(ada.identity.user_id).saved_bytes == 10


def test_the_host_is_held_to_the_party_caps_only() -> None:
    sim = Sim(max_saved_per_account=1, max_saved_objects=3, player_rooms=0)
    host = sim.client("host", host=True)
    assert host.join("stage") > 0  # the host creates rooms whatever the setting
    room = host.join("lobby")
    assert [spawn(host, room) for _ in range(4)] == [Status.OK] * 3 + [Status.QUOTA]
    ada = sim.client("ada")
    assert ada.call(Join, "ada-s-room").status == Status.QUOTA  # players create no rooms
    assert ada.call(Join, "stage").status == Status.OK  # the host's rooms are open to them


def test_rooms_with_nobody_and_nothing_saved_go_away_and_free_their_creator() -> None:
    sim = Sim(player_rooms=1)
    ada = sim.client("ada")
    attic = ada.join("attic")
    assert spawn(ada, attic, lifetime=Lifetime.WITH_MASTER) == Status.OK
    assert ada.call(Join, "cellar").status == Status.QUOTA
    ada.call(Leave, attic)
    assert "attic" not in sim.core.rooms
    assert ada.call(Join, "cellar").status == Status.OK
    # A room kept by a saved object keeps counting until the object goes.
    cellar = sim.core.rooms["cellar"].handle
    assert spawn(ada, cellar) == Status.OK
    ada.call(Leave, cellar)
    assert "cellar" in sim.core.rooms
    assert ada.call(Join, "attic").status == Status.QUOTA
    assert sim.core.clear_user(ada.identity.user_id) == 1
    sim.tick()
    assert "cellar" not in sim.core.rooms
    assert ada.call(Join, "attic").status == Status.OK


def test_the_host_clears_everything_an_account_left_behind() -> None:
    sim = Sim()
    ada, bob = sim.client("ada"), sim.client("bob")
    lobby, garden = ada.join("lobby"), ada.join("garden")
    bl = bob.join("lobby")
    assert spawn(ada, lobby, b"1") == spawn(ada, garden, b"2") == Status.OK
    assert spawn(ada, lobby, lifetime=Lifetime.WITH_MASTER) == Status.OK
    assert spawn(bob, bl, b"bob's") == Status.OK
    assert sim.core.clear_user(ada.identity.user_id) == 3
    sim.tick()
    bob.read()
    assert [d.reason for d in bob.of(Despawned)] == [DespawnReason.RESET] * 2
    assert [o.state for o in sim.core.rooms["lobby"].objects.values()] == [b"bob's"]
    assert sim.core.quotas.of(ada.identity.user_id).objects == 0
    assert sorted(sim.core.take_persistence()[1]) == [("garden", 1), ("lobby", 1)]


def test_ending_an_account_ends_every_session_connected_or_not() -> None:
    sim = Sim()
    a1, a2, bob = sim.client("ada"), sim.client("ada"), sim.client("bob")
    for c in (a1, a2, bob):
        c.join("lobby")
    sim.core.connection_lost(a2.conn, sim.now)  # in its grace window
    sim.tick()
    waiting = sim.client("ada", hello=False)  # upgraded, no HELLO yet
    assert sim.core.end_user(a1.identity.user_id, "signed out", sim.now) == 2
    sim.tick()
    bob.read()
    assert sorted(m.member for m in bob.of(MemberLeft)) == [a1.member, a2.member]
    a1.read()
    waiting.read()
    for c in (a1, waiting):
        goodbye = c.goodbye()
        assert goodbye is not None and (goodbye.code, goodbye.reason) == (4003, "signed out")
        assert c.conn.closing is not None
    assert not [s for s in sim.core.sessions.values() if s.user_id == a1.identity.user_id]
    assert bob.conn.closing is None and not bob.of(Goodbye)


def test_restored_objects_count_toward_their_spawner_and_their_room_s_creator() -> None:
    sim = Sim(max_saved_per_account=2, player_rooms=1)
    ada = sim.client("ada")
    uid = ada.identity.user_id
    sim.core.restore(
        [
            PersistedObject("attic", 1, Rule.ALLOW, 1, None, b"abc", uid, "Ada", uid),
            PersistedObject("attic", 2, Rule.ALLOW, 1, None, b"de", uid, "Ada", uid),
            PersistedObject("lobby", 3, Rule.ALLOW, 1, None, b"old", "", "", ""),  # saved before accounts
        ]
    )
    share = sim.core.quotas.of(uid)
    assert (share.name, share.objects, share.saved, share.saved_bytes, share.rooms) == ("Ada", 2, 2, 5, 1)
    assert (sim.core.quotas.saved, sim.core.quotas.saved_bytes) == (3, 8)
    assert spawn(ada, ada.join("lobby")) == Status.QUOTA
    assert ada.call(Join, "cellar").status == Status.QUOTA
    assert sim.core.rooms["attic"].persisted(1).room_creator == uid
