import stat

import pytest

from consent.config import (
    POSTGRESQL_SEQUENCER_INTERVAL_SECONDS,
    SQLITE_SEQUENCER_INTERVAL_SECONDS,
    ConsentConfig,
    SequencerPolicy,
)
from egate.cli import main, uvicorn_proxy_options
from forms_hub.config import FormsConfig
from kit.keys import load_master_key
from kit.settings import Settings, SettingsError, load_settings


def test_defaults_put_sqlite_under_the_data_dir(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/egate.sqlite3"
    assert settings.issuer == "http://127.0.0.1:8000"


def test_environment_prefix_is_egate(monkeypatch):
    monkeypatch.setenv("EGATE_ISSUER", "https://id.example.gov.hk/")
    monkeypatch.setenv("EGATE_PORT", "9001")
    settings = load_settings()
    assert settings.issuer == "https://id.example.gov.hk"
    assert settings.port == 9001


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("issuer", "id.example.gov.hk", "EGATE_ISSUER"),
        ("issuer", "https://id.example.gov.hk/?x=1", "EGATE_ISSUER"),
        ("database_url", "mysql://db/x", "EGATE_DATABASE_URL"),
        ("port", 70000, "EGATE_PORT"),
        ("log_level", "chatty", "EGATE_LOG_LEVEL"),
    ],
)
def test_malformed_setting_names_the_setting_in_one_line(field, value, named):
    with pytest.raises(SettingsError) as info:
        load_settings(**{field: value})
    message = str(info.value)
    assert message.startswith(named + ":")
    assert "\n" not in message


def test_master_key_is_generated_once_with_owner_only_permissions(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    first = load_master_key(settings)
    key_file = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 32
    assert load_master_key(settings) == first


def test_master_key_file_readable_by_others_is_refused(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    load_master_key(settings)
    (tmp_path / "master.key").chmod(0o644)
    with pytest.raises(SettingsError, match="^EGATE_MASTER_KEY_FILE: .*chmod 600"):
        load_master_key(settings)


def test_master_key_file_that_is_not_a_key_is_refused(tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("not base64 at all!")
    key_file.chmod(0o600)
    with pytest.raises(SettingsError, match="^EGATE_MASTER_KEY_FILE: not valid base64"):
        load_master_key(load_settings(data_dir=tmp_path))


def test_cli_reports_a_bad_setting_as_one_line_and_exit_code_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EGATE_ISSUER", "not-a-url")
    assert main(["db", "current"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("egate: configuration error: EGATE_ISSUER:")
    assert "\n" not in err and "Traceback" not in err


def test_operator_settings_reach_the_consent_and_forms_configs():
    settings = load_settings(
        consent_checkpoint_max_entries=7,
        consent_remembered_days=90,
        consent_resident_client_ids="egate-account, egate-app",
        forms_draft_ttl_days=3,
        forms_max_upload_bytes=4096,
    )
    consent = ConsentConfig.from_settings(settings)
    forms = FormsConfig.from_settings(settings)
    assert consent.checkpoints.max_entries == 7
    assert consent.grants.remembered_for.days == 90
    assert consent.resident_client_ids == frozenset({"egate-account", "egate-app"})
    assert forms.draft_ttl.days == 3
    assert forms.max_upload_bytes == 4096
    # The one default that depends on the backend: the sequencer's pause (load_settings: SQLite).
    sqlite_defaults = ConsentConfig(
        sequencer=SequencerPolicy(interval_seconds=SQLITE_SEQUENCER_INTERVAL_SECONDS)
    )
    assert ConsentConfig.from_settings(load_settings()) == sqlite_defaults
    assert FormsConfig.from_settings(load_settings()) == FormsConfig()


def test_a_short_admin_token_stops_start_up_with_one_line_naming_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EGATE_ADMIN_TOKEN", "letmein-letmein-letmein-letmei")  # 30 characters
    assert main(["db", "current"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("egate: configuration error: EGATE_ADMIN_TOKEN:") and "32 characters" in err
    assert "letmein" not in err and "\n" not in err  # the secret itself is never echoed
    monkeypatch.delenv("EGATE_ADMIN_TOKEN")
    assert load_settings(admin_token="x" * 32).admin_token == "x" * 32
    assert load_settings().admin_token is None  # unset: the admin API is simply closed


def test_trusted_proxies_are_ips_or_networks_and_reach_uvicorn():
    with pytest.raises(SettingsError, match="^EGATE_TRUSTED_PROXIES: .*'proxy.local'"):
        load_settings(trusted_proxies="10.0.0.1, proxy.local")
    settings = load_settings(trusted_proxies="10.0.0.1, 10.1.0.0/16")
    assert uvicorn_proxy_options(settings) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.1/32,10.1.0.0/16",
    }
    assert uvicorn_proxy_options(load_settings()) == {"proxy_headers": False, "forwarded_allow_ips": None}


@pytest.mark.parametrize(
    ("database_url", "given", "reads_first"),
    [
        (None, None, True),  # SQLite: on unless turned off
        (None, False, False),
        ("postgresql+psycopg://db.example/egate", None, False),  # PostgreSQL: off unless asked for
        ("postgresql+psycopg://db.example/egate", True, True),
    ],
)
def test_reads_first_is_on_for_sqlite_and_off_for_postgresql_unless_set(
    tmp_path, database_url, given, reads_first
):
    overrides = {"database_url": database_url, "database_reads_first": given}
    settings = Settings(data_dir=tmp_path, **{k: v for k, v in overrides.items() if v is not None})
    assert settings.reads_first is reads_first


@pytest.mark.parametrize(
    ("database_url", "given", "pause"),
    [
        (None, None, SQLITE_SEQUENCER_INTERVAL_SECONDS),  # the sequencer shares the serving process
        ("postgresql+psycopg://db.example/egate", None, POSTGRESQL_SEQUENCER_INTERVAL_SECONDS),
        (None, 0.01, 0.01),
        ("postgresql+psycopg://db.example/egate", 0.5, 0.5),
    ],
)
def test_the_sequencers_pause_is_by_backend_unless_set(tmp_path, database_url, given, pause):
    overrides = {"database_url": database_url, "consent_sequencer_interval_seconds": given}
    settings = Settings(data_dir=tmp_path, **{k: v for k, v in overrides.items() if v is not None})
    assert ConsentConfig.from_settings(settings).sequencer.interval_seconds == pause
