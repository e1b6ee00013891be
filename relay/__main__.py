"""``python -m relay``: run the relay alone, on the ports ``common.config`` gives.

Every setting in ``relay/settings.py`` can be changed with ``--set name=value`` (for example
``--set tick_hz=60 --set max_members=1000``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

import trio

from common.config import Config
from relay.service import serve
from relay.settings import Settings


def parse_settings(pairs: list[str]) -> Settings:
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    overrides: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name not in types:
            raise SystemExit(f"--set expects name=value with a name from relay/settings.py, got {pair!r}")
        kind = str(types[name])
        try:
            if kind == "int":
                overrides[name] = int(raw)
            elif kind == "float":
                overrides[name] = float(raw)
            elif kind.startswith("tuple[str"):
                overrides[name] = tuple(x for x in raw.split(",") if x)
            else:
                raise SystemExit(f"{name} cannot be set from the command line")
        except ValueError:
            raise SystemExit(f"{name}: {raw!r} is not a valid {kind}") from None
    try:
        return Settings().with_overrides(**overrides)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m relay", description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change a setting")
    parser.add_argument("--no-database", action="store_true", help="keep persistent objects in memory only")
    parser.add_argument(
        "--restore-wait", type=float, default=20.0, help="seconds to wait for the database at start"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    config = Config.from_env()
    settings = parse_settings(args.set)
    trio.run(
        lambda: serve(
            config,
            settings,
            database=not args.no_database,
            restore_wait=args.restore_wait,
            handle_signals=True,
        )
    )


if __name__ == "__main__":
    main()
