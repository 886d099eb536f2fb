"""The asset ledger (plan 2 of the notice): pure rules here; storage in repositories, workflows in services."""
