"""Import real networks -- Topology Zoo, topohub, SNDlib, GIS files, CSV lists -- as scenario topologies.

::

    from planner.importers import ImportOptions, build_topology, read_source, write_topology
    net = read_source("Abilene.graphml")             # source tables: nodes, links (parallel links kept)
    imp = build_topology(net, ImportOptions(pops=("NYC=New York",), route_factor=1.3))
    write_topology(imp, "imported/abilene")           # topology.yaml (+ routes.geojson)
"""

from planner.importers.build import ImportedTopology, ImportOptions, build_topology, make_id, unique_ids
from planner.importers.graph import read_gml, read_graphml, read_nodelink
from planner.importers.sndlib import read_sndlib
from planner.importers.source import SourceNetwork, from_networkx
from planner.importers.tables import read_csv_pair
from planner.importers.vector import read_vector
from planner.importers.write import (
    FORMATS,
    ImportRun,
    format_of,
    import_topology,
    load_sites,
    read_source,
    write_topology,
)

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportRun",
    "ImportedTopology",
    "SourceNetwork",
    "build_topology",
    "format_of",
    "from_networkx",
    "import_topology",
    "load_sites",
    "make_id",
    "read_csv_pair",
    "read_gml",
    "read_graphml",
    "read_nodelink",
    "read_sndlib",
    "read_source",
    "read_vector",
    "unique_ids",
    "write_topology",
]
