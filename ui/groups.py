"""Feature groups rendered to JavaScript once, for st_folium to send on every rerun.

streamlit-folium renders every group it is given on every rerun: folium builds its
elements again (a Jinja template compiled per element, a random id each), and the GeoJSON
is dumped again. On the Map page that was most of a rerun's server time. A group's script
depends only on what it draws, so it is rendered once and kept; a rerun puts the cached
script under the name st_folium gives the group.
"""

from __future__ import annotations

import uuid

import folium
from jinja2 import Template
from streamlit_folium import generate_leaflet_string

__all__ = ["PrerenderedGroup", "group_script"]

_GROUP = "__va_group__"
_MAP = "__va_map__"


def group_script(group: folium.FeatureGroup) -> str:
    """Render `group` (with its children) to JavaScript with placeholder names.

    The group must not be shown on its own (``show=False``): st_folium adds it to the map.
    The placeholders stand for the group's and its map's variable names, which
    `PrerenderedGroup` fills in when it is rendered.
    """
    holder = folium.Map(location=[0.0, 0.0], tiles=None)
    group.add_to(holder)
    group.render()  # type: ignore[no-untyped-call]
    base = uuid.uuid4().hex
    script: str = generate_leaflet_string(group, base_id=base)
    return script.replace(f"feature_group_{base}", _GROUP).replace(holder.get_name(), _MAP)


class PrerenderedGroup(folium.FeatureGroup):
    """A FeatureGroup whose script (`group_script`) was rendered before: cheap to render.

    Parameters
    ----------
    name
        The group's name (already escaped).
    script
        The group's script from `group_script`.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.filled_script() }}{% endmacro %}")

    def __init__(self, name: str, script: str) -> None:
        super().__init__(name=name)
        self._script = script

    def render(self, **kwargs: object) -> str:
        """Render nothing: st_folium reads the script itself and adds the group to the map.

        (folium's own `render` would compile the whole script, GeoJSON and all, as a
        Jinja template on every rerun.)
        """
        del kwargs
        return ""

    def filled_script(self) -> str:
        """Return the script under this group's and its map's variable names."""
        parent = self._parent.get_name() if self._parent is not None else _MAP
        return self._script.replace(_GROUP, self.get_name()).replace(_MAP, parent)
