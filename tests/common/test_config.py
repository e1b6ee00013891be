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


def test_the_party_runs_its_own_database_unless_told_otherwise() -> None:
    assert Config.from_env({}).own_database
    assert Config.from_env({"SOIREE_OWN_DATABASE": "1"}).own_database
    assert Config.from_env({"SOIREE_OWN_DATABASE": ""}).own_database
    elsewhere = "postgresql://root@10.0.0.7:26257/soiree"
    cfg = Config.from_env({"SOIREE_OWN_DATABASE": "0", "SOIREE_DATABASE_URL": elsewhere})
    assert not cfg.own_database and cfg.database_url == elsewhere


@pytest.mark.parametrize("raw", ["no", "off", "false", "2", "00", "yes"])
def test_an_own_database_setting_other_than_1_or_0_is_a_clear_error(raw: str) -> None:
    env = {"SOIREE_OWN_DATABASE": raw, "SOIREE_DATABASE_URL": "postgresql://root@10.0.0.7:26257/soiree"}
    with pytest.raises(ConfigError, match=f"SOIREE_OWN_DATABASE must be 1 .* or 0 .*got '{raw}'"):
        Config.from_env(env)


@pytest.mark.parametrize("url", [None, ""])
def test_no_own_database_and_no_url_names_both_variables(url: str | None) -> None:
    env = {"SOIREE_OWN_DATABASE": "0"} | ({} if url is None else {"SOIREE_DATABASE_URL": url})
    with pytest.raises(ConfigError, match="SOIREE_OWN_DATABASE=0 needs SOIREE_DATABASE_URL"):
        Config.from_env(env)
