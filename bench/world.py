"""The world workload's avatars: spread over a square world at a fixed density, walking about.

The density puts about 50 avatars in the relay's near tier (relay/PROTOCOL.md section 7): the
3 x 3 cells of 16 m around the focus cell, 2,304 m2 of flat ground. Avatars walk at
``WALK`` m/s, turn to a random heading every ``TURN_EVERY`` seconds on average and bounce off
the world's edge. Used by ``bench/relay_load.py --workload world`` and ``bench/core_cost.py
--world``.
"""

from __future__ import annotations

import math
import random

from relay.interest import Cell, Interest
from relay.protocol import Position
from relay.settings import Settings

WALK = 1.4  # m/s, a walking pace
TURN_EVERY = 3.0  # seconds between turns, on average
SETTINGS = Settings()
INTEREST = Interest(SETTINGS.interest_cell, SETTINGS.interest_tiers)
DENSITY = 46.0  # square metres per avatar: 2,000 avatars on a square of 303 m


def side_for(n: int) -> float:
    """The side in metres of the square world that holds ``n`` avatars at ``DENSITY``."""
    return math.sqrt(n * DENSITY)


class Walker:
    __slots__ = ("cell", "heading", "x", "z")

    def __init__(self, rng: random.Random, side: float) -> None:
        self.x, self.z = rng.uniform(0, side), rng.uniform(0, side)
        self.heading = rng.uniform(0, 2 * math.pi)
        self.cell: Cell | None = INTEREST.cell_of(self.position)

    @property
    def position(self) -> Position:
        return (self.x, 0.0, self.z)

    def step(self, rng: random.Random, side: float, dt: float) -> bool:
        """Walk for ``dt`` seconds; True when the avatar crossed into another interest cell."""
        if rng.random() < dt / TURN_EVERY:
            self.heading = rng.uniform(0, 2 * math.pi)
        x = self.x + WALK * dt * math.cos(self.heading)
        z = self.z + WALK * dt * math.sin(self.heading)
        if not 0 <= x <= side:
            self.heading = math.pi - self.heading
            x = min(max(x, 0.0), side)
        if not 0 <= z <= side:
            self.heading = -self.heading
            z = min(max(z, 0.0), side)
        self.x, self.z = x, z
        cell = INTEREST.cell_of(self.position)
        if cell != self.cell:
            self.cell = cell
            return True
        return False
