"""GIS output: the topology and a plan as layers, files for QGIS / Google Earth / kepler.gl, and GraphML.

::

    layers = topology_layers(sc, plan)            # dict of GeoDataFrames, EPSG:4326
    write_geojson(sc, "out/topology.geojson", plan=plan)
    write_geojson_layers(sc, "out/layers", plan=plan)   # one file per layer
    write_gpkg(sc, "out/topology.gpkg", plan=plan)
    write_kml(sc, "out/topology.kml", plan=plan)
    write_graphml(sc, "out/network.graphml", plan=plan)
    export_routes_geojson(sc, "routes.geojson")   # edit, then set files.routes
"""

from planner.gis.graphml import graphml_graph, write_graphml
from planner.gis.kml import write_kml
from planner.gis.layers import CRS, LAYER_GEOMETRY, Layers, route_line, route_lines, to_geodataframes, topology_layers
from planner.gis.vector import GPKG_VERSION, export_routes_geojson, write_geojson, write_geojson_layers, write_gpkg

__all__ = [
    "CRS",
    "GPKG_VERSION",
    "LAYER_GEOMETRY",
    "Layers",
    "export_routes_geojson",
    "graphml_graph",
    "route_line",
    "route_lines",
    "to_geodataframes",
    "topology_layers",
    "write_geojson",
    "write_geojson_layers",
    "write_gpkg",
    "write_graphml",
    "write_kml",
]
