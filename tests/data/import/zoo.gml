graph [
  DateObtained "22/10/10"
  GeoLocation "USA"
  Network "GulfNet"
  multigraph 1
  node [
    id 0
    label "Jackson"
    Country "United States"
    Longitude -90.18481
    Internal 1
    Latitude 32.29876
  ]
  node [
    id 1
    label "Memphis"
    Country "United States"
    Longitude -90.04898
    Internal 1
    Latitude 35.14953
  ]
  node [
    id 2
    label "Birmingham, AL"
    Country "United States"
    Longitude -86.80249
    Internal 1
    Latitude 33.52066
  ]
  edge [
    source 0
    target 1
    LinkSpeed "10"
    LinkLabel "10 Gbps"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 0
    target 2
    LinkLabel "10 Gbps"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 0
    target 2
    LinkLabel "100 Gbps"
    LinkSpeedRaw 100000000000.0
  ]
]
