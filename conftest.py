"""Doctest set-up for geo/ and layers/: wide pandas output."""

import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _wide_pandas(doctest_namespace: dict[str, object]) -> None:
    doctest_namespace["pd"] = pd
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
