"""Accounts, roles and login: the command line, the store (both backends), and the pages."""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import layers
import store
from geo.errors import AccessDeniedError, LoginError
from layers.access import Account, Role
from store import accounts
from tests.helpers import cli, copy_gpkg, log_in

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PASSWORD = "correct horse 7"


def add(where: str, name: str, role: str, bureau: str | None = None, password: str = PASSWORD):
    args = ["users", "add", name, "--role", role, "--store", where]
    if bureau:
        args += ["--bureau", bureau]
    return cli(*args, input_text=f"{password}\n")


def test_users_from_the_command_line(backend_store):
    made = add(backend_store, "li.qiang", "editor", "transport")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "account li.qiang: editor, transport"
    assert PASSWORD not in made.stdout + made.stderr
    row = store.open_store(backend_store).account("li.qiang")
    assert str(row["hash"]).startswith("$argon2id$")
    assert PASSWORD not in str(row)
    listed = cli("users", "list", "--store", backend_store)
    assert "li.qiang,editor,transport,0,0" in listed.stdout
    assert "argon2" not in listed.stdout
    short = cli("users", "passwd", "li.qiang", "--store", backend_store, input_text="short\n")
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr
    bad = add(backend_store, "x", "editor")
    assert bad.returncode == 2
    assert "an editor must name a bureau" in bad.stderr
    unknown = add(backend_store, "y", "editor", "nowhere")
    assert "unknown bureau 'nowhere'" in unknown.stderr
    assert cli("users", "disable", "li.qiang", "--store", backend_store).returncode == 0
    with pytest.raises(LoginError, match="disabled"):
        accounts.authenticate(store.open_store(backend_store), "li.qiang", PASSWORD)
    events = store.open_store(backend_store).events()
    assert events[["who", "action", "target"]].to_numpy().tolist()[0] == [
        "cli:" + getpass.getuser(),
        "account disabled",
        "li.qiang",
    ]


def test_five_failures_lock_the_account(backend_store):
    handle = store.open_store(backend_store)
    accounts.add_user(handle, "wang", role="viewer", bureau=None, password=PASSWORD, who="t")
    for _ in range(4):
        with pytest.raises(LoginError, match="wrong name or password"):
            accounts.authenticate(handle, "wang", "nope nope")
    with pytest.raises(LoginError, match="locked for 15 minutes"):
        accounts.authenticate(handle, "wang", "nope nope")
    with pytest.raises(LoginError, match="locked for 15 more minute"):
        accounts.authenticate(handle, "wang", PASSWORD)  # even the right password
    with pytest.raises(LoginError, match="wrong name or password"):
        accounts.authenticate(handle, "nobody", PASSWORD)  # same words for an unknown name
    with handle._write_sql() as run:  # fifteen minutes pass
        run("UPDATE {p}va_users SET locked_until = ? WHERE name = 'wang'", (time.time() - 1,))
    with pytest.raises(LoginError, match="wrong name or password"):  # counting starts again
        accounts.authenticate(handle, "wang", "one more typo")
    assert accounts.authenticate(handle, "wang", PASSWORD) == Account("wang", Role.VIEWER)


def test_an_editor_changes_only_their_bureaus_fields(backend_store):
    handle = store.open_store(backend_store)
    transport = accounts.add_user(
        handle, "zhao", role="editor", bureau="transport", password=PASSWORD, who="t"
    )
    code = handle.read_layer("villages")["code"].iloc[0]
    _, version = handle.current("villages", code, ["bus_year"])
    assert (
        accounts.edit_as(
            handle, transport, "villages", code, {"bus_year": 2016}, expected_version=version
        )
        == version + 1
    )
    with pytest.raises(AccessDeniedError, match="zhao may not edit tap_water_year"):
        accounts.edit_as(
            handle,
            transport,
            "villages",
            code,
            {"tap_water_year": 2016},
            expected_version=version + 1,
        )
    refused = handle.events()
    assert refused.iloc[0][["who", "action", "detail"]].tolist() == [
        "zhao",
        "edit refused",
        "tap_water_year",
    ]
    assert handle.history(code)["who"].tolist() == ["zhao"]
    with pytest.raises(AccessDeniedError, match="may not import layer 'water_works'"):
        accounts.import_as(
            handle, transport, "water_works", handle.read_layer("water_works"), source="x"
        )


def test_the_command_line_acts_as_a_logged_in_account(backend_store):
    assert add(backend_store, "admin1", "admin").returncode == 0
    assert add(backend_store, "water1", "editor", "water").returncode == 0
    code = layers.load("villages", backend_store)["code"].iloc[1]
    env = {**os.environ, "VILLAGE_ATLAS_PASSWORD": PASSWORD}
    ok = cli(
        "edit",
        code,
        "--set",
        "tap_water_year=2015",
        "--user",
        "water1",
        "--store",
        backend_store,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    refused = cli(
        "edit",
        code,
        "--set",
        "bus_year=2015",
        "--user",
        "water1",
        "--store",
        backend_store,
        env=env,
    )
    assert refused.returncode == 2
    assert "water1 may not edit bus_year" in refused.stderr
    wrong = cli(
        "edit", code, "--set", "tap_water_year=2016", "--user", "water1", "--store", backend_store,
        env={**os.environ, "VILLAGE_ATLAS_PASSWORD": "not it at all"},
    )  # fmt: skip
    assert wrong.returncode == 2
    assert wrong.stderr == "error: wrong name or password\n"
    trail = store.open_store(backend_store).history(code)
    assert trail[["who", "column", "new"]].to_numpy().tolist() == [
        ["water1", "tap_water_year", "2015"]
    ]


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def app_store(demo_store, tmp_path, monkeypatch):
    copy = copy_gpkg(demo_store, tmp_path / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(copy))
    return copy


def _start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _log_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    return log_in(at, name, password)  # type: ignore[return-value]


def test_local_mode_on_loopback_with_no_accounts(app_store):
    at = _start()
    assert any("Local mode" in i.value for i in at.sidebar.info)
    assert at.title[0].value != "Log in to Village Atlas"


def test_refuses_to_serve_the_network_without_an_admin(app_store, on_the_network):
    at = _start()
    assert at.error[0].value.startswith("This app is served on a network address")
    assert at.code[0].value == "village-atlas users add NAME --role admin"
    assert not at.title  # no page at all


def test_anonymous_visitor_sees_only_the_login_and_an_editor_only_their_layers(
    app_store, on_the_network
):
    handle = store.open_store(app_store)
    accounts.add_user(handle, "boss", role="admin", bureau=None, password=PASSWORD, who="t")
    accounts.add_user(handle, "li", role="editor", bureau="transport", password=PASSWORD, who="t")
    at = _start()
    assert [t.value for t in at.title] == ["Log in to Village Atlas"]
    assert not at.dataframe
    _log_in(at, "li", "wrong password")
    assert at.error[0].value == "Not logged in: wrong name or password."
    _log_in(at, "li")
    assert any("li \\(Municipal Transportation Bureau\\)" in m.value for m in at.sidebar.markdown)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    offered = at.selectbox(key="data_layer").options
    assert offered == ["Roads", "Bus stops", "Projects and funds"]  # their own unit's projects
    code = at.selectbox(key="data_village").value
    fields = {w.key for w in [*at.number_input, *at.text_input] if w.key.startswith("edit_")}
    assert fields == {
        f"edit_hardened_road_year_{code}",
        f"edit_bus_year_{code}",
        f"edit_city_bus_year_{code}",
    }
    at.number_input(key=f"edit_bus_year_{code}").set_value(2016)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert handle.history(code)[["who", "column"]].to_numpy().tolist() == [["li", "bus_year"]]
    next(b for b in at.sidebar.button if b.key == "auth_logout").click().run()
    assert [t.value for t in at.title] == ["Log in to Village Atlas"]


def test_five_failed_logins_lock_the_page_too(app_store, on_the_network):
    handle = store.open_store(app_store)
    accounts.add_user(handle, "boss", role="admin", bureau=None, password=PASSWORD, who="t")
    at = _start()
    for _ in range(5):
        _log_in(at, "boss", "guess guess")
    assert "locked for 15 minutes" in at.error[0].value
    _log_in(at, "boss")
    assert "locked for" in at.error[0].value
    assert [t.value for t in at.title] == ["Log in to Village Atlas"]


def test_an_idle_session_expires(app_store, on_the_network, monkeypatch):
    handle = store.open_store(app_store)
    accounts.add_user(handle, "boss", role="admin", bureau=None, password=PASSWORD, who="t")
    monkeypatch.setenv("VILLAGE_ATLAS_IDLE_MINUTES", "0.02")  # 1.2 s
    at = _log_in(_start(), "boss")
    assert at.title[0].value != "Log in to Village Atlas"
    time.sleep(1.5)
    at.run()
    assert [t.value for t in at.title] == ["Log in to Village Atlas"]
    assert "session expired" in at.info[0].value


def test_single_sign_on_maps_only_a_verified_email_to_an_enabled_account(backend_store):
    handle = store.open_store(backend_store)
    accounts.add_user(
        handle,
        "liu",
        role="planner",
        bureau=None,
        password=PASSWORD,
        who="t",
        email="Liu@city.gov.cn",
    )
    assert accounts.single_sign_on(handle, "liu@city.gov.cn", verified=True) == Account(
        "liu", Role.PLANNER
    )
    assert accounts.single_sign_on(handle, "liu@city.gov.cn", verified=False) is None
    assert accounts.single_sign_on(handle, "other@city.gov.cn", verified=True) is None
    handle.set_disabled("liu", disabled=True, who="t")
    assert accounts.single_sign_on(handle, "liu@city.gov.cn", verified=True) is None
    with pytest.raises(ValueError, match="is not an e-mail address"):
        accounts.add_user(
            handle, "x", role="viewer", bureau=None, password=PASSWORD, who="t", email="no"
        )


def test_a_poverty_office_editor_cannot_import_the_villages(backend_store, tmp_path):
    """The villages hold every bureau's fields: only an admin replaces them with a file."""
    assert add(backend_store, "admin1", "admin").returncode == 0
    assert add(backend_store, "pov", "editor", "poverty_office").returncode == 0
    path = tmp_path / "v.gpkg"
    layers.load("villages", backend_store).drop(columns="version").to_file(path)
    env = {**os.environ, "VILLAGE_ATLAS_PASSWORD": PASSWORD}
    done = cli(
        "import", str(path), "--layer", "villages", "--user", "pov", "--store", backend_store,
        env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pov may not import layer 'villages'" in done.stderr
    assert store.open_store(backend_store).events()["action"].iloc[0] == "import refused"


def test_a_changed_role_ends_the_session(app_store, on_the_network):
    handle = store.open_store(app_store)
    accounts.add_user(handle, "boss", role="admin", bureau=None, password=PASSWORD, who="t")
    accounts.add_user(handle, "wat", role="editor", bureau="water", password=PASSWORD, who="t")
    at = _log_in(_start(), "wat")
    at.switch_page("pages/data.py").run()
    assert any(w.key.startswith("edit_tap_water_year") for w in at.number_input)
    accounts.add_user(handle, "wat", role="viewer", bureau=None, password=PASSWORD, who="boss")
    at.run()
    assert [t.value for t in at.title] == ["Log in to Village Atlas"]


def test_saving_one_field_keeps_a_long_text_whole(app_store):
    handle = store.open_store(app_store)
    code = handle.read_layer("villages")["code"].iloc[0]
    long = "长" * 250
    _, version = handle.current("villages", code, ["cadre"])
    editable = layers.editable_fields("villages")
    handle.edit(
        "villages", code, {"cadre": long}, expected_version=version, who="t", allowed=editable
    )
    at = _start()
    at.switch_page("pages/data.py").run()
    at.number_input(key=f"edit_tap_water_year_{code}").set_value(2016)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    values, _ = handle.current("villages", code, ["cadre", "tap_water_year"])
    assert values == {"cadre": long, "tap_water_year": 2016}
