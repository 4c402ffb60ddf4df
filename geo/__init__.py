"""Pure spatial computation and I/O for Village Atlas (no Streamlit, no folium)."""

from geo import crs as crs
from geo import errors as errors
from geo import io as io
from geo import settings as settings

__all__ = ["crs", "errors", "io", "settings"]
