from __future__ import annotations

import pytest

from common import config
from common.config import STACK_PORTS, Config, ConfigError


def test_defaults_follow_the_design() -> None:
    cfg = Config.from_env({})
    assert str(cfg.var) == "/var" and cfg.mode == "standalone" and cfg.port == 8000
    assert (cfg.api_port, cfg.relay_port, cfg.relay_admin_port, cfg.app_port, cfg.db_port) == (
        8001,
        8002,
        8003,
        8004,
        8005,
    )
    assert cfg.database_url == "postgresql://root@127.0.0.1:8005/soiree?sslmode=disable"


def test_sandstorm_flag_selects_sandstorm_mode_and_ports_follow_the_base() -> None:
    cfg = Config.from_env({"SANDSTORM": "1", "SOIREE_PORT": "9100", "SOIREE_VAR": "/x"})
    assert cfg.mode == "sandstorm" and cfg.relay_port == 9102
    assert cfg.uploads_dir.as_posix() == "/x/uploads"


def test_a_stack_s_port_block_holds_every_offset() -> None:
    offsets = {name: value for name, value in vars(config).items() if name.endswith("_OFFSET")}
    assert "DB_HTTP_OFFSET" in offsets and all(0 < offset < STACK_PORTS for offset in offsets.values())
    assert max(offsets.values()) + 1 == STACK_PORTS


@pytest.mark.parametrize(
    "env", [{"SOIREE_PORT": "eighty"}, {"SOIREE_PORT": "70000"}, {"SOIREE_MODE": "cloud"}]
)
def test_bad_environment_is_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Config.from_env(env)
