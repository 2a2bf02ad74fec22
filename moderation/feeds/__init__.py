"""Atom feeds of approved comments, per thread and for the whole site."""
