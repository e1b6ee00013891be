"""Distance tiers: far objects' states are sent less often to members that declared a focus.

Positions fall into cells of a cubic grid; the tier of an object for a member is chosen by the
Chebyshev distance, in cells, between the member's focus cell and the object's cell. Tier ``t``
is sent to a focus every ``period`` ticks, and then carries the newest state of every object in
that tier that changed during the period, so the latest value always arrives. Foci take their
turns at different ticks, by the z and y of their cell: were every focus's slow tiers due on the
same tick, that tick would carry several times the bytes of the others, and its fan-out would
delay everyone's near states (bench/README.md §The world beside the crowd). Foci with the same z and y
share their turns, and with them the segments below (which run along z); a focus moving along x
keeps its turns.

Everything here is per room and shared by all members: each object's newest state and the tick
it came in, and per-tick windows computed once. A window is kept in *rows* of cells (same x and y, sorted
by z), so what a focus gets from a tier is a few *segments* of rows (a run of cells along z):
whole rows farther than the tier's inner bound, and for the rows within it the two runs on
either side of the inner box. A segment's records, and the frames built from them, are shared
by every focus that needs the same segment, so a focus costs a few dictionary lookups per tier
and row, not one per occupied cell, and its frames are references to shared ones, not copies.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable

from relay.protocol import Position

Cell = tuple[int, int, int]
# object id -> (cell, STATE record)
TickStates = dict[int, tuple[Cell, bytes]]
# a tier's window: (x, y) -> (the occupied z, in order; each one's records)
Rows = dict[tuple[int, int], tuple[list[int], list[list[bytes]]]]
# (tier, x, y, lowest z, highest z): the cells of one row a focus gets from one tier
Segment = tuple[int, int, int, int, int]
Frames = tuple[list[bytes], int]  # wire-ready frames and their total size

_FAR = 1 << 62  # beyond any cell distance
_NONE: Frames = ([], 0)


def _first(pair: tuple[int, list[bytes]]) -> int:
    return pair[0]


class Interest:
    def __init__(self, cell_size: float, tiers: tuple[tuple[int, int], ...]) -> None:
        self.cell_size = cell_size
        self.bounds = [bound for bound, _ in tiers]
        self.periods = [period for _, period in tiers]
        # each tier's cells: inner < distance <= outer (the last tier has no outer bound)
        self._ranges = [
            (self.bounds[t - 1] if t else -1, self.bounds[t] if t < len(tiers) - 1 else _FAR)
            for t in range(len(tiers))
        ]
        self.current: TickStates = {}
        # every object's newest state and the tick it came in (counted by end_tick): a window of
        # the last p ticks is one pass over it, not a merge of p ticks' dictionaries
        self.latest: dict[int, tuple[int, Cell, bytes]] = {}
        self._now = 0
        # the tier of each Chebyshev distance up to the last tier's inner bound (beyond: the last)
        self._tier_at = [
            next(t for t, bound in enumerate(self.bounds) if d <= bound)
            for d in range(self._ranges[-1][0] + 1)
        ]
        # which tiers are due for a focus at (tick + its phase) modulo the periods' common multiple
        cycle = math.lcm(*self.periods)
        self._due_at = [
            tuple(t for t, period in enumerate(self.periods) if not turn % period) for turn in range(cycle)
        ]
        self._windows: dict[int, Rows] = {}  # this tick's, built when a member first needs them
        self._longest: Rows | None = None  # the longest window, for what a moved focus is owed
        self._segments: dict[Segment, list[bytes]] = {}
        self._frames: dict[Segment, Frames] = {}
        self._tiers: dict[tuple[Cell, Cell], int] = {}
        # which rows each due tier's window occupies this tick, as an id of that set of rows, and
        # each (tier, rows id, focus)'s segments
        self._shape: dict[int, int] = {}
        self._shapes: dict[frozenset[tuple[int, int]], int] = {}
        self._plans: dict[tuple[int, int, Cell], list[Segment]] = {}

    def cell_of(self, pos: Position | None) -> Cell | None:
        if pos is None:
            return None
        s = self.cell_size
        return (math.floor(pos[0] / s), math.floor(pos[1] / s), math.floor(pos[2] / s))

    def tier(self, focus: Cell | None, cell: Cell) -> int:
        if focus is None:
            return 0
        key = (focus, cell)
        t = self._tiers.get(key)
        if t is None:
            if len(self._tiers) > 100_000:  # pairs seen recently are the ones that recur
                self._tiers.clear()
            d = max(abs(focus[0] - cell[0]), abs(focus[1] - cell[1]), abs(focus[2] - cell[2]))
            t = next((i for i, bound in enumerate(self.bounds) if d <= bound), len(self.bounds) - 1)
            self._tiers[key] = t
        return t

    def record(self, obj: int, cell: Cell, state_record: bytes) -> None:
        self.current[obj] = (cell, state_record)
        self.latest[obj] = (self._now, cell, state_record)

    def discard(self, obj: int) -> bool:
        """Forget an object's pending states (it changed owner or was despawned)."""
        self.current.pop(obj, None)
        last = self.latest.pop(obj, None)
        found = last is not None and last[0] > self._now - max(self.periods)
        if found:
            self._forget_windows()
        return found

    def _forget_windows(self) -> None:
        self._windows = {}
        self._longest = None
        self._segments.clear()
        self._frames.clear()

    def _window(self, ticks: int) -> Rows:
        """The newest state of every object that changed in the last ``ticks`` ticks, in rows."""
        if ticks == 1:
            return self._rows(self.current.values())
        since = self._now - ticks + 1
        return self._rows((cell, rec) for at, cell, rec in self.latest.values() if at >= since)

    def phase(self, focus: Cell) -> int:
        """How far a focus's turns are shifted: by its z and y, so that neighbouring slabs of
        cells take theirs on different ticks while foci along x, whose segments are the same
        runs of rows, take them together."""
        return (focus[2] + 7 * focus[1]) % len(self._due_at)

    def due_tiers(self, tick: int, focus: Cell) -> tuple[int, ...]:
        """The tiers due at ``tick`` for a member focused on ``focus``."""
        due = self._due_at
        return due[(tick + self.phase(focus)) % len(due)]

    def window(self, t: int) -> Rows:
        """Tier ``t``'s window this tick: the latest states of its period, in rows of cells."""
        rows = self._windows.get(t)
        if rows is None:
            shapes = self._shapes
            if len(shapes) > 1_000:  # the row sets of a world come back tick after tick
                shapes.clear()
                self._plans.clear()
            period = self.periods[t]
            rows = self._windows[t] = self._window(period)
            if period == max(self.periods):  # the window a moved focus's debts come from, too
                self._longest = rows
            self._shape[t] = shapes.setdefault(frozenset(rows), len(shapes))
        return rows

    @staticmethod
    def _rows(states: Iterable[tuple[Cell, bytes]]) -> Rows:
        by_cell: dict[Cell, list[bytes]] = {}
        for cell, rec in states:
            recs = by_cell.get(cell)
            if recs is None:
                by_cell[cell] = [rec]
            else:
                recs.append(rec)
        unsorted: dict[tuple[int, int], list[tuple[int, list[bytes]]]] = {}
        for (x, y, z), recs in by_cell.items():
            row = unsorted.get((x, y))
            if row is None:
                unsorted[(x, y)] = [(z, recs)]
            else:
                row.append((z, recs))
        rows: Rows = {}
        for key, cells in unsorted.items():
            if len(cells) > 1:
                cells.sort(key=_first)
            rows[key] = ([z for z, _ in cells], [recs for _, recs in cells])
        return rows

    def _due_segments(self, tiers: tuple[int, ...], focus: Cell) -> list[Segment]:
        """The segments of ``tiers`` a member focused on ``focus`` gets this tick."""
        out: list[Segment] = []
        plans, shape = self._plans, self._shape
        for t in tiers:
            rows = self.window(t)
            key = (t, shape[t], focus)
            plan = plans.get(key)
            if plan is None:
                if len(plans) > 20_000:  # a few MB at most; a world of 2,000 avatars uses ~1,100
                    plans.clear()
                plan = plans[key] = self._plan(t, rows, focus)
            out += plan
        return out

    def _plan(self, t: int, rows: Rows, focus: Cell) -> list[Segment]:
        """The segments of tier ``t`` a focus gets: they depend only on the focus and which rows
        are occupied, so they are kept for as long as the same rows are (from tick to tick)."""
        fx, fy, fz = focus
        out: list[Segment] = []
        inner, outer = self._ranges[t]
        if outer < _FAR and (2 * outer + 1) ** 2 < len(rows):  # fewer rows in the box than occupied
            keys: list[tuple[int, int]] = [
                (x, y)
                for x in range(fx - outer, fx + outer + 1)
                for y in range(fy - outer, fy + outer + 1)
                if (x, y) in rows
            ]
        else:
            keys = list(rows)
        # the whole row for the last tier: one key whatever the focus, so shared by all
        lo, hi = (fz - outer, fz + outer) if outer < _FAR else (-_FAR, _FAR)
        for x, y in keys:
            across = max(abs(x - fx), abs(y - fy))
            if across > outer:
                continue
            if across > inner:  # every cell within the outer bound along z
                out.append((t, x, y, lo, hi))
            else:  # the runs on either side of the inner box
                out.append((t, x, y, lo, fz - inner - 1))
                out.append((t, x, y, fz + inner + 1, hi))
        return out

    def _segment(self, segment: Segment) -> list[bytes]:
        recs = self._segments.get(segment)
        if recs is None:
            t, x, y, lo, hi = segment
            zs, blocks = self._windows[t][(x, y)]
            recs = []
            for block in blocks[bisect.bisect_left(zs, lo) : bisect.bisect_right(zs, hi)]:
                recs += block
            self._segments[segment] = recs
        return recs

    def due(self, tiers: tuple[int, ...], focus: Cell) -> list[bytes]:
        """The states of ``tiers`` a member focused on ``focus`` gets this tick."""
        out: list[bytes] = []
        for segment in self._due_segments(tiers, focus):
            out += self._segment(segment)
        return out

    def due_frames(
        self, tiers: tuple[int, ...], focus: Cell, pack: Callable[[list[bytes]], Frames]
    ) -> Frames:
        """``due`` as wire-ready frames: each segment's frames are built once per tick with
        ``pack`` and shared by every focus that gets the segment."""
        frames: list[bytes] = []
        size = 0
        cache = self._frames
        for segment in self._due_segments(tiers, focus):
            built = cache.get(segment)
            if built is None:
                recs = self._segment(segment)
                built = cache[segment] = pack(recs) if recs else _NONE
            if built[1]:
                frames += built[0]
                size += built[1]
        return frames, size

    def owed(self, old: Cell | None, new: Cell | None) -> list[bytes]:
        """States possibly still owed after a focus moved from ``old`` to ``new``: those of the
        longest window that were deferred under ``old`` and whose tier changes under ``new``;
        when the turns change too (another z or y), every state deferred under ``old``, since
        the new turns may come later than the old ones would have.

        When the focus kept its turns, only cells within the last tier's inner bound of either
        focus can change tier, so only those rows and runs of the longest window are looked at."""
        if old is None:  # nothing was deferred
            return []
        rows = self._longest
        if rows is None:
            rows = self.window(self.periods.index(max(self.periods)))
        reach = self._ranges[-1][0]
        tier_at = self._tier_at
        span = len(tier_at)
        last = len(self.bounds) - 1
        ox, oy, oz = old
        moved = new is not None and self.phase(new) == self.phase(old)
        nx, ny, nz = new if new is not None else old
        if not moved:  # removed, or its turns changed: everything deferred is owed, far cells included
            reach = _FAR
        lo, hi = min(oz, nz) - reach, max(oz, nz) + reach
        out: list[bytes] = []
        for (x, y), (zs, blocks) in rows.items():
            old_xy = max(abs(x - ox), abs(y - oy))
            new_xy = max(abs(x - nx), abs(y - ny))
            if min(old_xy, new_xy) > reach:
                continue
            for i in range(bisect.bisect_left(zs, lo), bisect.bisect_right(zs, hi)):
                z = zs[i]
                d = max(old_xy, abs(z - oz))
                was = tier_at[d] if d < span else last
                if not was:
                    continue
                if moved:
                    d = max(new_xy, abs(z - nz))
                    now = tier_at[d] if d < span else last
                else:
                    now = 0  # no focus: everything is near
                if was != now:
                    out += blocks[i]
        return out

    def end_tick(self) -> None:
        self.current = {}
        self._now += 1
        self._forget_windows()
        if not self._now % max(self.periods):  # drop the states no window reaches any more
            since = self._now - max(self.periods)
            latest = self.latest
            for obj in [obj for obj, (at, _, _) in latest.items() if at <= since]:
                del latest[obj]
