"""Each account's share of the party and the party's own: objects, saved objects and bytes, rooms
created (PROTOCOL.md §12.4). Free of I/O: the core and its rooms keep it up to date, and ask it
before they let an account take more.

An object counts toward the account that spawned it (the identity's user id, whatever session
or connection it came from) for as long as it exists: handed over, orphaned, adopted or restored
after a restart. A room counts toward the account whose ``JOIN`` created it for as long as it
exists. The host's accounts are held to the party's caps only. Objects saved before accounts
were kept (account "") count toward the party's totals only.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.settings import Settings


@dataclass
class Share:
    """What one account holds now. ``name`` and ``host`` are as last seen, for people."""

    name: str = ""
    host: bool = False
    objects: int = 0
    saved: int = 0  # persistent objects
    saved_bytes: int = 0  # their states
    rooms: int = 0  # rooms it created that still exist

    @property
    def empty(self) -> bool:
        return not (self.objects or self.rooms)


_NOBODY = Share()  # what an unknown account holds; never changed


class Quotas:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.player_rooms = settings.player_rooms  # the host's setting (relay/policy.py)
        self.accounts: dict[str, Share] = {}
        self.saved = 0
        self.saved_bytes = 0

    def of(self, account: str) -> Share:
        """The account's share as it stands (an empty one for an account holding nothing)."""
        return self.accounts.get(account, _NOBODY)

    # --- may it? --------------------------------------------------------------------------------

    def may_spawn(self, account: str, host: bool, persistent: bool, size: int) -> bool:
        s = self.settings
        if persistent and (self.saved >= s.max_saved_objects or self.saved_bytes + size > s.max_saved_bytes):
            return False
        if host:
            return True
        share = self.of(account)
        if share.objects >= s.max_objects_per_account:
            return False
        return not (persistent and share.saved >= s.max_saved_per_account)

    def may_create_room(self, account: str, host: bool) -> bool:
        return host or self.of(account).rooms < self.player_rooms

    def may_grow(self, size: int) -> bool:
        return self.saved_bytes + size <= self.settings.max_saved_bytes

    # --- bookkeeping ------------------------------------------------------------------------------

    def _share(self, account: str, name: str = "", host: bool = False) -> Share:
        share = self.accounts.get(account)
        if share is None:
            share = self.accounts[account] = Share()
        if name:
            share.name = name
        share.host = share.host or host
        return share

    def _tidy(self, account: str, share: Share) -> None:
        if share.empty:
            del self.accounts[account]

    def add(self, account: str, persistent: bool, size: int, name: str = "", host: bool = False) -> None:
        if persistent:
            self.saved += 1
            self.saved_bytes += size
        if account:
            share = self._share(account, name, host)
            share.objects += 1
            if persistent:
                share.saved += 1
                share.saved_bytes += size

    def remove(self, account: str, persistent: bool, size: int) -> None:
        if persistent:
            self.saved -= 1
            self.saved_bytes -= size
        share = self.accounts.get(account)
        if share is not None:
            share.objects -= 1
            if persistent:
                share.saved -= 1
                share.saved_bytes -= size
            self._tidy(account, share)

    def resize(self, account: str, old: int, new: int) -> bool:
        """A persistent object's state changes size: False (and nothing changes) if the party's
        saved bytes would go over their cap."""
        grow = new - old
        if grow > 0 and not self.may_grow(grow):
            return False
        self.saved_bytes += grow
        share = self.accounts.get(account)
        if share is not None:
            share.saved_bytes += grow
        return True

    def room_created(self, account: str, name: str = "", host: bool = False) -> None:
        if account:
            self._share(account, name, host).rooms += 1

    def room_ended(self, account: str) -> None:
        share = self.accounts.get(account)
        if share is not None:
            share.rooms -= 1
            self._tidy(account, share)
