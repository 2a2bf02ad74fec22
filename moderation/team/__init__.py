"""The team page: administrators add, invite, promote, deactivate and reset the passwords of moderators."""
