"""Population-weighted coverage against a brute force over every populated cell."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geo.raster import covered_cells, hillshade, population_within, read_band
from tests.helpers import write_tif

CRS = "EPSG:4541"


@pytest.fixture
def population(tmp_path):
    rng = np.random.default_rng(3)
    grid = np.where(rng.random((80, 120)) < 0.6, rng.integers(1, 50, (80, 120)), 0).astype(
        "float32"
    )
    grid[0, 0] = -1  # nodata
    transform = rasterio.Affine(250.0, 0.0, 480_000.0, 0.0, -250.0, 4_500_000.0)
    path = write_tif(tmp_path / "pop.tif", grid, crs=CRS, transform=transform, nodata=-1)
    return path, grid, transform


def brute_force(grid, transform, facilities, within):
    rows, cols = np.nonzero(grid > 0)
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    geoms = facilities.geometry.to_numpy()
    d = np.array(
        [shapely.distance(shapely.Point(x, y), geoms).min() for x, y in zip(xs, ys, strict=True)]
    )
    mask = np.zeros(grid.shape, dtype=bool)
    mask[rows, cols] = d <= within
    return mask


@pytest.mark.parametrize("within", [300.0, 1000.0, 2000.0])
def test_covered_cells_match_brute_force_for_points_and_lines(population, within):
    path, grid, transform = population
    facilities = gpd.GeoDataFrame(
        geometry=[
            shapely.Point(490_000, 4_490_000),
            shapely.Point(505_123, 4_482_777),
            shapely.LineString([(481_000, 4_481_000), (509_000, 4_497_000)]),
        ],
        crs=CRS,
    )
    expected = brute_force(grid, transform, facilities, within)
    got = covered_cells(grid.shape, transform, facilities.geometry, within, candidates=grid > 0)
    assert (got == expected).all()
    out = population_within(path, facilities, within)
    assert out.loc["all", "people_covered"] == pytest.approx(grid[expected].sum())
    assert out.loc["all", "people"] == pytest.approx(grid[grid > 0].sum())


def test_population_by_zone(population):
    path, grid, _transform = population
    west = shapely.box(480_000, 4_480_000, 495_000, 4_500_000)
    east = shapely.box(495_000, 4_480_000, 510_000, 4_500_000)
    zones = gpd.GeoDataFrame({"code": ["w", "e"]}, geometry=[west, east], crs=CRS).to_crs(4326)
    facilities = gpd.GeoDataFrame(geometry=[shapely.Point(490_000, 4_490_000)], crs=CRS)
    out = population_within(path, facilities, 1500, zones=zones)
    assert out.loc["e", "people_covered"] == 0
    assert 0 < out.loc["w", "share"] < 1
    assert out["people"].sum() == pytest.approx(grid[grid > 0].sum(), rel=1e-3)


@pytest.mark.parametrize("band_rows", [1, 3, 7, 80])
def test_bands_of_rows_give_the_answer_of_one_piece(population, band_rows):
    """Read band by band (a halo as deep as the distance), the figures equal the brute force."""
    path, grid, transform = population
    facilities = gpd.GeoDataFrame(
        geometry=[
            shapely.Point(490_000, 4_490_000),
            shapely.LineString([(481_000, 4_481_000), (509_000, 4_497_000)]),
        ],
        crs=CRS,
    )
    west = shapely.box(480_000, 4_480_000, 495_000, 4_500_000)
    east = shapely.box(495_000, 4_480_000, 510_000, 4_500_000)
    zones = gpd.GeoDataFrame({"code": ["w", "e"]}, geometry=[west, east], crs=CRS)
    whole = population_within(path, facilities, 2000, zones=zones, band_cells=10**9)
    banded = population_within(path, facilities, 2000, zones=zones, band_cells=120 * band_rows)
    assert banded["people"].tolist() == pytest.approx(whole["people"].tolist())
    assert banded["people_covered"].tolist() == pytest.approx(whole["people_covered"].tolist())
    expected = brute_force(grid, transform, facilities, 2000)
    assert banded["people_covered"].sum() == pytest.approx(grid[expected].sum())


@pytest.mark.parametrize("band_rows", [1, 5, 30])
def test_each_band_reads_only_the_roads_near_it(population, band_rows, monkeypatch):
    """Many short roads in the north only: each band takes the roads that reach its window
    (bands in the south take none), and the figures still equal the brute force."""
    import geo.raster  # noqa: PLC0415

    path, grid, transform = population
    taken = []

    def spy(shape, transform, facilities, within_m, candidates=None):
        taken.append(len(facilities))
        return covered_cells(shape, transform, facilities, within_m, candidates)

    monkeypatch.setattr(geo.raster, "covered_cells", spy)
    rng = np.random.default_rng(8)
    x = rng.uniform(480_000, 510_000, 60)
    y = rng.uniform(4_495_000, 4_500_000, 60)
    roads = gpd.GeoDataFrame(
        geometry=shapely.linestrings(
            np.stack([np.column_stack([x, y]), np.column_stack([x + 400, y - 300])], axis=1)
        ),
        crs=CRS,
    )
    banded = population_within(path, roads, 1000, band_cells=120 * band_rows)
    expected = brute_force(grid, transform, roads, 1000)
    assert 0 < expected.sum() < (grid > 0).sum() / 2
    assert banded.loc["all", "people_covered"] == pytest.approx(grid[expected].sum())
    if band_rows < 30:  # several bands: the southern ones far from every road
        assert taken[0] > 0
        assert taken[-1] == 0
    assert max(taken) <= len(roads)


def test_geographic_and_huge_rasters_are_refused(tmp_path):
    path = write_tif(
        tmp_path / "geo.tif",
        np.ones((2, 2), dtype="float32"),
        crs="EPSG:4326",
        transform=rasterio.Affine(0.1, 0, 95, 0, -0.1, 41),
    )
    facilities = gpd.GeoDataFrame(geometry=[shapely.Point(95.05, 40.95)], crs=4326)
    with pytest.raises(ValueError, match="geographic CRS: reproject it"):
        population_within(path, facilities, 100)
    band, _, _ = read_band(path)
    assert band.shape == (2, 2)


def test_hillshade_lights_the_north_west_side_of_a_hill():
    r, c = np.mgrid[0:41, 0:41]
    hill = 1000 - 30.0 * np.hypot(r - 20, c - 20)  # a cone; row 0 is north
    shade = hillshade(hill, (30.0, 30.0))
    north_west, south_east = shade[5:15, 5:15].mean(), shade[25:35, 25:35].mean()
    assert north_west > 0.9
    assert south_east < 0.2
    # a 45-degree slope facing the sun at 45 degrees is lit head-on
    ramp = -np.tile(np.arange(10.0), (10, 1)) * 30.0  # falls to the east: faces east
    assert hillshade(ramp, (30.0, 30.0), azimuth=90.0)[5, 5] == pytest.approx(1.0)
