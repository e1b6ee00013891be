"""Distance tiers: far objects' states are sent less often to members that declared a focus.

Positions fall into cells of a cubic grid; the tier of an object for a member is chosen by the
Chebyshev distance, in cells, between the member's focus cell and the object's cell. Tier ``t``
is sent on ticks that are multiples of its period, and then carries the newest state of every
object in that tier that changed during the period, so the latest value always arrives.

Everything here is per room and shared by all members: one history of the last ticks' states,
grouped by cell, and per-tick windows computed once. A member's frame then costs one tier
lookup per occupied cell, and members in the same focus cell share the same bytes.
"""

from __future__ import annotations

import math
from collections import deque

from relay.protocol import Position

Cell = tuple[int, int, int]
# object id -> (cell, STATE record)
TickStates = dict[int, tuple[Cell, bytes]]


class Interest:
    def __init__(self, cell_size: float, tiers: tuple[tuple[int, int], ...]) -> None:
        self.cell_size = cell_size
        self.bounds = [bound for bound, _ in tiers]
        self.periods = [period for _, period in tiers]
        self.current: TickStates = {}
        self.history: deque[TickStates] = deque(maxlen=max(self.periods) - 1 or 1)
        self._windows: dict[int, dict[Cell, list[bytes]]] | None = None
        self._tick = 0

    def cell_of(self, pos: Position | None) -> Cell | None:
        if pos is None:
            return None
        s = self.cell_size
        return (math.floor(pos[0] / s), math.floor(pos[1] / s), math.floor(pos[2] / s))

    def tier(self, focus: Cell | None, cell: Cell) -> int:
        if focus is None:
            return 0
        d = max(abs(focus[0] - cell[0]), abs(focus[1] - cell[1]), abs(focus[2] - cell[2]))
        for i, bound in enumerate(self.bounds):
            if d <= bound:
                return i
        return len(self.bounds) - 1

    def record(self, obj: int, cell: Cell, state_record: bytes) -> None:
        self.current[obj] = (cell, state_record)

    def discard(self, obj: int) -> bool:
        """Forget an object's pending states (it changed owner or was despawned)."""
        found = self.current.pop(obj, None) is not None
        for past in self.history:
            if past.pop(obj, None) is not None:
                found = True
        if found:
            self._windows = None
        return found

    def _merged(self, ticks: int) -> TickStates:
        merged: TickStates = {}
        past = list(self.history)[-(ticks - 1) :] if ticks > 1 else []
        for states in [*past, self.current]:
            merged.update(states)
        return merged

    def windows(self, tick: int) -> dict[int, dict[Cell, list[bytes]]]:
        """For each tier due at ``tick``: its window's latest states, grouped by cell."""
        if self._windows is not None and self._tick == tick:
            return self._windows
        result: dict[int, dict[Cell, list[bytes]]] = {}
        for t, period in enumerate(self.periods):
            if tick % period:
                continue
            by_cell: dict[Cell, list[bytes]] = {}
            for cell, rec in self._merged(period).values():
                by_cell.setdefault(cell, []).append(rec)
            result[t] = by_cell
        self._windows, self._tick = result, tick
        return result

    def due(self, tick: int, focus: Cell) -> list[bytes]:
        """The states a member focused on ``focus`` gets at ``tick``."""
        out: list[bytes] = []
        for t, by_cell in self.windows(tick).items():
            for cell, recs in by_cell.items():
                if self.tier(focus, cell) == t:
                    out.extend(recs)
        return out

    def owed(self, old: Cell | None, new: Cell | None) -> list[bytes]:
        """States possibly still owed after a focus moved from ``old`` to ``new``: those of the
        longest window that were deferred under ``old`` and whose tier changes under ``new``."""
        out: list[bytes] = []
        for cell, rec in self._merged(max(self.periods)).values():
            was = self.tier(old, cell)
            if was != 0 and was != self.tier(new, cell):
                out.append(rec)
        return out

    def end_tick(self) -> None:
        self.history.append(self.current)
        self.current = {}
        self._windows = None
