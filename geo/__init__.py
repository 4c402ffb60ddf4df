"""Pure spatial computation for Village Atlas (no Streamlit, no folium, no storage)."""

from geo import crs as crs
from geo import errors as errors
from geo import settings as settings

__all__ = ["crs", "errors", "settings"]
