"""``gis-service ledger``: the asset ledger from the command line (each part registers its own commands)."""

from __future__ import annotations

import typer

from gis_service.ledger import cli_books, cli_plans, cli_registry

ledger_app = typer.Typer(
    help="The asset ledger (资产台账): inventory check, transfers, claims and debts, revitalisation plans, "
         "registration pathways, progress, Excel and GeoPackage.",
    no_args_is_help=True,
)
for part in (cli_plans, cli_books, cli_registry):
    part.register(ledger_app)
