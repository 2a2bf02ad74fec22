"""Commenters told by email of replies to their comments and of their approval: double opt-in, one-click unsubscribe."""
