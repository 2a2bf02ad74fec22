"""Moderators' notifications by email, and the one-click links those emails carry."""
