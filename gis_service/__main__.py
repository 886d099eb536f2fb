from gis_service.cli import main

main()
