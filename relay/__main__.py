"""``python -m relay``: run the relay alone, on the ports ``common.config`` gives.

Every setting in ``relay/settings.py`` can be changed with ``--set name=value`` (for example
``--set tick_hz=60 --set max_members=1000``). ``python -m relay ticket --name Ada`` prints a
relay ticket signed with the var directory's key, for trying a client without the Uro API
(relay/PROTOCOL.md §1.1).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import uuid

import trio

from common.config import Config
from common.identity import PERM_HOST, PERM_PLAY, TICKET_MAX_TTL, TICKET_TTL, Identity, clean_name
from common.secretfiles import mint_ticket, ticket_key
from relay.register import Registration, RegistrationError
from relay.service import serve
from relay.settings import Settings

# Development accounts: the same name gives the same account on every run.
DEV_NAMESPACE = uuid.UUID("0b7c3a52-5d0e-4f8e-9c1a-6e2f4d8b7a90")


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


def ticket(argv: list[str]) -> str:
    """``python -m relay ticket``: a ticket for a development account, as the API would issue."""
    parser = argparse.ArgumentParser(
        prog="python -m relay ticket",
        description="Print a relay ticket signed with the var directory's secrets/ticket.key.",
    )
    parser.add_argument("--name", required=True, help="the display name others see")
    parser.add_argument("--user-id", help="the account id (default: derived from the name)")
    parser.add_argument("--host", action="store_true", help="with the host's permission")
    parser.add_argument(
        "--ttl", type=float, default=TICKET_TTL, help=f"seconds it lives (at most {TICKET_MAX_TTL})"
    )
    parser.add_argument(
        "--reusable", action="store_true", help="may open any number of connections (development only)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.ttl <= TICKET_MAX_TTL:
        parser.error(f"--ttl must be between 0 and {TICKET_MAX_TTL} seconds")
    name = clean_name(args.name, fallback="")
    if not name:
        parser.error("--name needs at least one visible character")
    user_id = args.user_id or str(uuid.uuid5(DEV_NAMESPACE, name))
    perms = frozenset({PERM_PLAY, PERM_HOST} if args.host else {PERM_PLAY})
    identity = Identity(user_id, name, perms, "ticket")
    return mint_ticket(ticket_key(Config.from_env()), identity, ttl=args.ttl, reusable=args.reusable)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ticket"]:
        print(ticket(argv[1:]))
        return
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
    try:
        registration = Registration.from_env(os.environ)
    except RegistrationError as exc:
        raise SystemExit(str(exc)) from None
    trio.run(
        lambda: serve(
            config,
            settings,
            database=not args.no_database,
            restore_wait=args.restore_wait,
            handle_signals=True,
            registration=registration,
        )
    )


if __name__ == "__main__":
    main()
