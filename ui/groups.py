"""Feature groups rendered to JavaScript once, for st_folium to send on every rerun.

streamlit-folium renders every group it is given on every rerun: folium builds its
elements again (a Jinja template compiled per element, a random id each), and the GeoJSON
is dumped again. On the Map page that was most of a rerun's server time. A group's script
depends only on what it draws, so it is rendered once and kept; a rerun puts the cached
script under the name st_folium gives the group.
"""

from __future__ import annotations

import hashlib

import folium
from jinja2 import Template
from streamlit_folium import generate_leaflet_string

__all__ = ["PrerenderedGroup", "group_script"]

# Placeholders with a non-ASCII letter (valid in a JavaScript name): folium writes data as
# JSON with every non-ASCII character escaped, so no text from data can contain them.
_GROUP = "\u01c2group\u01c2"
_MAP = "\u01c2map\u01c2"
_BASE = "va\u01c2base"


def group_script(group: folium.FeatureGroup) -> str:
    """Render `group` (with its children) to JavaScript with placeholder names.

    The group must not add itself to the map (``show=False``): `PrerenderedGroup` does.
    The placeholders stand for the group's and its map's variable names, which
    `PrerenderedGroup` fills in when it is rendered. Its layers' variable names come from
    a digest of the script, so the same group gives the same script (a map whose script
    is unchanged is not rebuilt in the browser).
    """
    holder = folium.Map(location=[0.0, 0.0], tiles=None)
    group.add_to(holder)
    group.render()  # type: ignore[no-untyped-call]
    script: str = generate_leaflet_string(group, base_id=_BASE)
    script = script.replace(f"feature_group_{_BASE}", _GROUP).replace(holder.get_name(), _MAP)
    digest = hashlib.sha256(script.encode()).hexdigest()[:20]
    return script.replace(_BASE, f"va{digest}")


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
        """Render nothing: st_folium reads the script itself (`filled_script`).

        (folium's own `render` would compile the whole script, GeoJSON and all, as a
        Jinja template on every rerun.)
        """
        del kwargs
        return ""

    def filled_script(self) -> str:
        """Return the script under this group's and its map's names, adding it to the map."""
        parent = self._parent.get_name() if self._parent is not None else _MAP
        name = self.get_name()
        script = self._script.replace(_GROUP, name).replace(_MAP, parent)
        return f"{script}\n{name}.addTo({parent});\n"
