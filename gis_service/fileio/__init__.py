"""Reading and writing layer files: GeoPackage, Shapefile (GBK/UTF-8), GeoJSON, CSV, Excel, KML."""
