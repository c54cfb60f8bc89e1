"""Real places the generator builds on: AI campus metros, metro PoPs and the long-haul corridors between them.

Coordinates are WGS84 decimal degrees, rounded to ~1 km; they place a campus in its
county or industrial park, a PoP at its carrier hotel, and a junction at the city
a long-haul route passes through. Power prices are EIA Electric Power Monthly
table 5.6.A (industrial, by state) rounded up for transmission and demand
charges, as in ``sites/reference.yaml``.

The corridors follow interstates, as most US long-haul conduit does (Durairajan
et al., "InterTubes", SIGCOMM 2015); each one becomes a DCI span whose shared-risk
group is named after its highway. The corridor graph has no bridge, so every
campus attached to two hubs reaches every PoP over two edge-disjoint routes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAMPUSES", "CORRIDORS", "HUBS", "POP_ORDER", "Campus", "Hub"]


@dataclass(frozen=True)
class Campus:
    """An AI campus site: where, whose grid, what power costs."""

    id: str
    name: str
    lat: float
    lon: float
    state: str
    region: str
    price_usd_per_mwh: float
    utility: str


@dataclass(frozen=True)
class Hub:
    """A long-haul node: a metro exchange point (PoP) or a junction city."""

    id: str
    name: str
    lat: float
    lon: float


# In the order tiers take them: the first two are the reference pair.
CAMPUSES: tuple[Campus, ...] = (
    Campus("OH-NAL", "New Albany, Ohio", 40.07, -82.75, "OH", "us-east", 75, "AEP Ohio"),
    Campus("LA-RCH", "Richland Parish, Louisiana", 32.47, -91.65, "LA", "us-south", 60, "Entergy Louisiana"),
    Campus("VA-LDN", "Loudoun County (Arcola), Virginia", 38.95, -77.53, "VA", "us-east", 85, "Dominion Energy"),
    Campus("IA-CBF", "Council Bluffs, Iowa", 41.22, -95.86, "IA", "us-central", 65, "MidAmerican Energy"),
    Campus("OR-TDL", "The Dalles, Oregon", 45.63, -121.20, "OR", "us-west", 55, "Northern Wasco County PUD"),
    Campus("TX-ABI", "Abilene, Texas", 32.50, -99.77, "TX", "us-south", 58, "ERCOT (Oncor)"),
    Campus("AZ-MES", "Mesa, Arizona", 33.35, -111.64, "AZ", "us-west", 72, "Salt River Project"),
    Campus("GA-SSP", "Stanton Springs, Georgia", 33.62, -83.79, "GA", "us-east", 70, "Georgia Power"),
    Campus("TX-FTW", "Fort Worth, Texas", 32.99, -97.35, "TX", "us-south", 60, "ERCOT (Oncor)"),
    Campus("UT-EGM", "Eagle Mountain, Utah", 40.30, -112.02, "UT", "us-west", 62, "Rocky Mountain Power"),
    Campus("NE-PAP", "Papillion, Nebraska", 41.10, -96.03, "NE", "us-central", 68, "Omaha Public Power District"),
    Campus("IA-ALT", "Altoona, Iowa", 41.65, -93.49, "IA", "us-central", 65, "MidAmerican Energy"),
    Campus("NM-LLN", "Los Lunas, New Mexico", 34.77, -106.77, "NM", "us-west", 66, "PNM"),
    Campus("NC-FCY", "Forest City, North Carolina", 35.34, -81.87, "NC", "us-east", 72, "Duke Energy Carolinas"),
    Campus("WY-CHY", "Cheyenne, Wyoming", 41.10, -104.83, "WY", "us-central", 60, "Black Hills Energy"),
)

HUBS: tuple[Hub, ...] = (
    # Metro exchange points (carrier hotels): PoPs when a tier uses them.
    Hub("ASH", "Ashburn, VA (Equinix DC campus)", 39.04, -77.49),
    Hub("CHI", "Chicago, IL (350 E Cermak)", 41.853, -87.618),
    Hub("DFW", "Dallas, TX (Infomart)", 32.80, -96.82),
    Hub("ATL", "Atlanta, GA (56 Marietta St)", 33.755, -84.391),
    Hub("NYC", "New York, NY (60 Hudson St)", 40.718, -74.008),
    Hub("SEA", "Seattle, WA (Westin Building Exchange)", 47.614, -122.338),
    Hub("SJC", "San Jose, CA (Equinix SV1, 11 Great Oaks Blvd)", 37.243, -121.782),
    Hub("LAX", "Los Angeles, CA (One Wilshire)", 34.048, -118.255),
    Hub("DEN", "Denver, CO (910 15th St)", 39.745, -104.990),
    Hub("MIA", "Miami, FL (NAP of the Americas)", 25.783, -80.193),
    # Junction cities along the interstate corridors.
    Hub("PDX", "Portland, OR", 45.523, -122.676),
    Hub("SAC", "Sacramento, CA", 38.582, -121.494),
    Hub("PHX", "Phoenix, AZ", 33.448, -112.074),
    Hub("BOI", "Boise, ID", 43.615, -116.202),
    Hub("SLC", "Salt Lake City, UT", 40.761, -111.891),
    Hub("ABQ", "Albuquerque, NM", 35.084, -106.651),
    Hub("ELP", "El Paso, TX", 31.759, -106.487),
    Hub("SAT", "San Antonio, TX", 29.424, -98.494),
    Hub("HOU", "Houston, TX", 29.760, -95.370),
    Hub("OKC", "Oklahoma City, OK", 35.468, -97.516),
    Hub("KCY", "Kansas City, MO", 39.100, -94.579),
    Hub("OMA", "Omaha, NE", 41.257, -95.935),
    Hub("DSM", "Des Moines, IA", 41.587, -93.625),
    Hub("MSP", "Minneapolis, MN", 44.977, -93.265),
    Hub("STL", "St. Louis, MO", 38.627, -90.199),
    Hub("IND", "Indianapolis, IN", 39.768, -86.158),
    Hub("CIN", "Cincinnati, OH", 39.103, -84.512),
    Hub("CLE", "Cleveland, OH", 41.499, -81.694),
    Hub("PIT", "Pittsburgh, PA", 40.441, -79.996),
    Hub("PHL", "Philadelphia, PA", 39.952, -75.165),
    Hub("RIC", "Richmond, VA", 37.541, -77.436),
    Hub("CLT", "Charlotte, NC", 35.227, -80.843),
    Hub("BHM", "Birmingham, AL", 33.521, -86.802),
    Hub("NSH", "Nashville, TN", 36.163, -86.781),
    Hub("MEM", "Memphis, TN", 35.149, -90.049),
    Hub("JAN", "Jackson, MS", 32.299, -90.185),
    Hub("NOL", "New Orleans, LA", 29.951, -90.072),
    Hub("SHV", "Shreveport, LA", 32.525, -93.750),
    Hub("LIT", "Little Rock, AR", 34.746, -92.290),
    Hub("JAX", "Jacksonville, FL", 30.332, -81.656),
    Hub("TPA", "Tampa, FL", 27.951, -82.457),
)

# The PoPs tiers use, in order: a tier with n PoPs takes the first n.
POP_ORDER: tuple[str, ...] = ("ASH", "CHI", "DFW", "ATL", "NYC", "SEA", "SJC", "LAX", "DEN", "MIA")

# Long-haul corridors: (a, b, highway). The highway names the shared-risk group.
CORRIDORS: tuple[tuple[str, str, str], ...] = (
    ("SEA", "PDX", "I5"), ("PDX", "SAC", "I5"), ("SAC", "SJC", "I680"), ("SJC", "LAX", "US101"),
    ("SEA", "BOI", "I82"), ("PDX", "BOI", "I84"), ("BOI", "SLC", "I84"), ("SAC", "SLC", "I80"),
    ("LAX", "SLC", "I15"), ("LAX", "PHX", "I10"), ("PHX", "ABQ", "I40"), ("PHX", "ELP", "I10"),
    ("SLC", "DEN", "I80"), ("DEN", "ABQ", "I25"), ("ABQ", "ELP", "I25"), ("ELP", "SAT", "I10"),
    ("SAT", "HOU", "I10"), ("SAT", "DFW", "I35"), ("HOU", "DFW", "I45"), ("ABQ", "OKC", "I40"),
    ("DEN", "KCY", "I70"), ("DEN", "OMA", "I76"), ("OKC", "DFW", "I35"), ("OKC", "KCY", "I35"),
    ("KCY", "OMA", "I29"), ("OMA", "DSM", "I80"), ("DSM", "MSP", "I35"), ("MSP", "CHI", "I94"),
    ("DSM", "CHI", "I88"), ("KCY", "STL", "I70"), ("STL", "CHI", "I55"), ("STL", "IND", "I70"),
    ("IND", "CHI", "I65"), ("DFW", "SHV", "I20"), ("DFW", "LIT", "I30"), ("SHV", "JAN", "I20"),
    ("HOU", "NOL", "I10"), ("NOL", "JAN", "I55"), ("JAN", "MEM", "I55"), ("LIT", "MEM", "I40"),
    ("MEM", "STL", "I55"), ("MEM", "NSH", "I40"), ("JAN", "BHM", "I20"), ("BHM", "ATL", "I20"),
    ("NSH", "BHM", "I65"), ("NSH", "IND", "I65"), ("NSH", "ATL", "I24"), ("IND", "CIN", "I74"),
    ("CIN", "ATL", "I75"), ("CIN", "PIT", "I70"), ("CHI", "CLE", "I90"), ("CLE", "PIT", "I76"),
    ("CLE", "NYC", "I80"), ("PIT", "ASH", "I70"), ("PIT", "PHL", "I76"), ("ASH", "PHL", "I95"),
    ("PHL", "NYC", "I95"), ("ASH", "RIC", "I95"), ("RIC", "CLT", "I85"), ("CLT", "ATL", "I85"),
    ("ATL", "JAX", "I75"), ("NOL", "JAX", "I10"), ("JAX", "TPA", "I75"), ("JAX", "MIA", "I95"),
    ("TPA", "MIA", "I75"),
)
