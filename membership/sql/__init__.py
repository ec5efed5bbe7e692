"""The ledger's fast SQL path: compiled statements run on the driver (``statements``) and
rows that remember their changes (``rows``, ``typed``).

The rule: the ORM everywhere else; this layer only inside the ledger transaction, where
each statement is paid for by every event waiting for the writer.
"""
