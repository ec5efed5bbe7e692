"""The money logic: supporters, payments and recurring support, from facts Stripe reports.

Functions here take plain values (never Stripe payloads) and are written so that
the same facts applied in any order, any number of times, leave the same ledger.
"""
