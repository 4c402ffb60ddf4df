"""The planning optimiser: exact answers checked against a brute force over every choice."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from geo.optimise import greedy_max_cover, max_cover, pairs_within, set_cover


def _random_case(seed: int, n_demand: int = 14, n_cand: int = 9, density: float = 0.25):
    rng = np.random.default_rng(seed)
    reach = csr_matrix(rng.random((n_demand, n_cand)) < density)
    weights = rng.integers(0, 50, n_demand).astype(float)
    return reach, weights


def _covered(reach: csr_matrix, weights: np.ndarray, chosen) -> float:
    if len(chosen) == 0:
        return 0.0
    hit = np.asarray(reach[:, list(chosen)].sum(axis=1)).ravel() > 0
    return float(weights[hit].sum())


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n_sites", [1, 2, 3])
def test_max_cover_equals_the_brute_force(seed, n_sites):
    reach, weights = _random_case(seed)
    best = max(
        _covered(reach, weights, c) for c in itertools.combinations(range(reach.shape[1]), n_sites)
    )
    found = max_cover(reach, weights, n_sites)
    assert found.objective == pytest.approx(best)
    assert _covered(reach, weights, found.chosen) == pytest.approx(best)
    assert len(found.chosen) <= n_sites
    if found.method == "HiGHS (optimal)":
        assert found.gap == 0.0
    greedy, total = greedy_max_cover(reach, weights, n_sites)
    assert total >= (1 - 1 / np.e) * best - 1e-9  # the greedy's guarantee
    assert total == pytest.approx(_covered(reach, weights, greedy))


def test_covered_demand_adds_nothing_and_too_many_sites_stop_early():
    reach = csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
    weights = np.array([0.0, 3.0, 4.0, 0.0])  # the first and last are covered already
    found = max_cover(reach, weights, 3)
    assert found.chosen.tolist() == [1]
    assert found.objective == 7.0
    assert "only 1 of the 3 sites asked for add any coverage" in found.notes[0]


@pytest.mark.parametrize("seed", range(10))
def test_set_cover_is_the_fewest_sites(seed):
    reach, _ = _random_case(seed, n_demand=12, n_cand=8, density=0.3)
    must = np.ones(reach.shape[0], dtype=bool)
    found = set_cover(reach, must)
    reachable = np.asarray(reach.sum(axis=1)).ravel() > 0
    assert set(found.uncoverable.tolist()) == set(np.flatnonzero(~reachable).tolist())
    ones = np.ones(reach.shape[0])
    ones[~reachable] = 0
    need = ones.sum()
    fewest = next(
        k
        for k in range(reach.shape[1] + 1)
        if any(
            _covered(reach, ones, c) == need
            for c in itertools.combinations(range(reach.shape[1]), k)
        )
    )
    assert found.objective == fewest
    assert _covered(reach, ones, found.chosen) == need


def test_pairs_within_agrees_with_the_geodesic():
    import pyproj  # noqa: PLC0415

    rng = np.random.default_rng(5)
    demand = np.column_stack([rng.uniform(95, 96, 200), rng.uniform(39.5, 40.5, 200)])
    sites = np.column_stack([rng.uniform(95, 96, 30), rng.uniform(39.5, 40.5, 30)])
    got = pairs_within(demand, sites, 5000).toarray()
    geod = pyproj.Geod(ellps="WGS84")
    lon1, lon2 = np.meshgrid(demand[:, 0], sites[:, 0], indexing="ij")
    lat1, lat2 = np.meshgrid(demand[:, 1], sites[:, 1], indexing="ij")
    _, _, dist = geod.inv(lon1, lat1, lon2, lat2)
    clear = np.abs(dist - 5000) > 1.0  # away from the boundary, both must agree
    assert (got[clear] == (dist[clear] <= 5000)).all()
    assert got.sum() > 0


def test_plan_from_the_command_line(demo_store, tmp_path):
    import geopandas as gpd  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    import layers  # noqa: PLC0415
    from geo.coverage import coverage  # noqa: PLC0415
    from layers.rules import facilities_for, get_rule  # noqa: PLC0415
    from tests.helpers import cli  # noqa: PLC0415

    out = tmp_path / "sites.geojson"
    done = cli(
        "plan", "--rule", "bus_2km", "--add", "5", "--candidates", "villages", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("objective ")
    assert "method HiGHS (optimal)" in line
    sites = gpd.read_file(out)
    assert list(sites.columns[:5]) == [
        "site_id",
        "lon",
        "lat",
        "covers_weight",
        "newly_covered_villages",
    ]
    assert len(sites) == 5
    # the poor people newly reached, recomputed independently with the coverage engine
    villages = layers.load("villages")
    stops = facilities_for(get_rule("bus_2km"), 2017)
    before = coverage(villages, stops, within_m=2000)["covered"]
    both = gpd.GeoDataFrame(
        pd.concat([stops[["geometry"]], sites[["geometry"]].to_crs(stops.crs)]), crs=stops.crs
    )
    after = coverage(villages, both, within_m=2000)["covered"]
    gained = villages.loc[after & ~before, "poor_people"].fillna(0).sum()
    assert float(line.split()[1]) == gained
    assert sites["covers_weight"].sum() == gained
    bad = cli("plan", "--rule", "tap_water", "--add", "3", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode == 2
    assert "is an attribute rule" in bad.stderr


def test_reach_along_roads_matches_the_engine_site_by_site(demo_store):
    import layers  # noqa: PLC0415
    from geo import network  # noqa: PLC0415
    from layers import planning  # noqa: PLC0415
    from layers.rules import road_graph  # noqa: PLC0415

    villages = layers.load("villages")
    graph = road_graph(2017)
    sites = planning.candidates("roads", 2017, spacing_m=3000).iloc[::7].reset_index(drop=True)
    sites = sites.iloc[:40]
    reach = network.reach_along_roads(graph, villages, sites, 2000, batch=8).toarray()
    for j in range(len(sites)):  # brute force: the engine, one site at a time
        d = network.network_distance(graph, villages, sites.iloc[[j]])["network_distance_m"]
        assert (reach[:, j] == (d <= 2000).to_numpy()).all(), j
    assert reach.any()


def test_plan_along_roads_from_the_command_line(demo_store, tmp_path):
    from tests.helpers import cli  # noqa: PLC0415

    out = tmp_path / "sites.csv"
    done = cli(
        "plan", "--rule", "bus_2km", "--add", "3", "--network", "--candidates", "villages",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "along roads" in done.stdout
    assert out.read_text().count("\n") == 4


def test_plan_along_roads_names_its_synthetic_roads_even_with_the_graph_from_disk(
    demo_store, tmp_path
):
    from tests.helpers import cli  # noqa: PLC0415

    kept = demo_store.with_name("demo.cache") / "road_graph-2017.npz"
    for _ in range(2):  # the second plan reads the road graph back from disk, not the roads
        done = cli(
            "plan", "--rule", "bus_2km", "--add", "2", "--network", "--candidates", "villages",
            "--out", str(tmp_path / "sites.csv"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert kept.is_file()
        assert "Roads" in done.stderr.split("note:")[1]


def test_a_plan_saved_as_a_scenario_shows_its_effect_per_county(demo_store, tmp_path):
    import io  # noqa: PLC0415

    import pandas as pd  # noqa: PLC0415

    from tests.helpers import cli, copy_gpkg  # noqa: PLC0415

    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    out = tmp_path / "sites.csv"
    done = cli(
        "plan", "--rule", "bus_2km", "--add", "4", "--candidates", "villages", "--out", str(out),
        "--save-scenario", "four stops", "--store", str(path), "--user", "planner1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    objective = float(done.stdout.split()[1])
    listed = cli("scenario", "list", "--store", str(path))
    assert "four stops,planner1,bus_2km,2017" in listed.stdout
    shown = cli("scenario", "show", "four stops", "--store", str(path))
    assert shown.returncode == 0, shown.stderr
    effect = pd.read_csv(io.StringIO(shown.stdout), index_col=[0, 1]).loc["bus_2km"]
    assert effect.loc["total", "poor_people_newly_covered"] == objective
    assert effect.loc["total", "villages"] == 440
    assert effect.drop(index="total")["newly_covered"].sum() == effect.loc["total", "newly_covered"]
    assert effect.loc["total", "newly_uncovered"] == 0  # adding sites never uncovers one
    missing = cli("scenario", "show", "nope", "--store", str(path))
    assert missing.returncode == 2
    assert "no scenario 'nope'" in missing.stderr


def test_sites_added_along_roads_count_what_the_engine_finds(demo_store):
    import geopandas as gpd  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    import layers  # noqa: PLC0415
    from geo import network  # noqa: PLC0415
    from layers import planning, scenarios  # noqa: PLC0415
    from layers.rules import facilities_for, get_rule, road_graph  # noqa: PLC0415

    rule, year = get_rule("bus_2km"), 2015  # the plan's first year: gaps to close
    added = planning.candidates("villages", year).iloc[::40].reset_index(drop=True)
    points = tuple(map(tuple, shapely.get_coordinates(added.geometry.to_numpy())))
    effect = scenarios.effect(scenarios.Scenario("s", "bus_2km", year, points), rules=["bus_2km"])
    graph = road_graph(year)
    villages, existing = layers.load("villages"), facilities_for(rule, year)
    both = gpd.GeoDataFrame(
        pd.concat([existing[["geometry"]], added.to_crs(existing.crs)[["geometry"]]]),
        crs=existing.crs,
    )

    def reached(facilities: gpd.GeoDataFrame) -> pd.Series:
        found = network.network_distance(graph, villages, facilities)["network_distance_m"]
        return found <= 2000

    new = reached(both) & ~reached(existing)
    found = effect["after_roads"] & ~effect["before_roads"]
    assert found.tolist() == new.tolist()
    assert new.sum() > 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # spopt 0.7 on PuLP 3's old API
@pytest.mark.parametrize("seed", range(6))
def test_max_cover_equals_spopt_on_the_same_distances(seed):
    """spopt's MCLP (PuLP with CBC) on the same geodesic cost matrix reaches the same optimum."""
    import pulp  # noqa: PLC0415
    import pyproj  # noqa: PLC0415
    from spopt.locate import MCLP  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    demand = np.column_stack([rng.uniform(96.0, 96.3, 40), rng.uniform(40.0, 40.2, 40)])
    sites = np.column_stack([rng.uniform(96.0, 96.3, 15), rng.uniform(40.0, 40.2, 15)])
    d_lon, s_lon = np.meshgrid(demand[:, 0], sites[:, 0], indexing="ij")
    d_lat, s_lat = np.meshgrid(demand[:, 1], sites[:, 1], indexing="ij")
    _, _, cost = pyproj.Geod(ellps="WGS84").inv(d_lon, d_lat, s_lon, s_lat)
    weights = rng.integers(0, 300, 40)
    within, n_sites = 4000.0, 3
    ours = max_cover(csr_matrix(cost <= within), weights.astype(float), n_sites)
    theirs = MCLP.from_cost_matrix(cost, weights, within, p_facilities=n_sites)
    theirs = theirs.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = [j for j, var in enumerate(theirs.fac_vars) if var.value() > 0.5]
    covered = (cost[:, chosen] <= within).any(axis=1)
    assert ours.objective == pytest.approx(float(weights[covered].sum()))
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective))
    assert _covered(csr_matrix(cost <= within), weights, ours.chosen) == ours.objective
    assert pairs_within(demand, sites, within).toarray().tolist() == (cost <= within).tolist()


def test_planned_sites_serve_the_villages_of_the_rules_scope(demo_store):
    """Broadband is asked of poor villages: a site earns nothing for the others."""
    import layers  # noqa: PLC0415
    from layers import planning  # noqa: PLC0415
    from layers.rules import RULES  # noqa: PLC0415

    rule = RULES["fibre_1km"]
    villages = layers.load("villages").set_index("code")
    sites = planning.candidates("villages", 2015)
    chosen, _ = planning.plan_sites(rule, 2015, sites, planning.Ask(8, weight="villages"))
    served = " ".join(chosen["newly_covered_villages"]).split()
    assert served
    assert villages.loc[served, "is_poor"].all()
    assert chosen["covers_weight"].sum() == len(served)  # one per poor village newly served
