"""Pure analysis code: coverage, networks and location-allocation on arrays and GeoDataFrames.

No database, HTTP or map imports here; services feed these functions and store what they return.
"""
