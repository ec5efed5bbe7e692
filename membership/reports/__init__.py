"""Reports: queries over the ledger, and the CSV exports staff and `flask export` share."""
