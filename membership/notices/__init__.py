"""Supporter notices: the emails a supporter expects about their own money."""
