"""Webhooks: other systems told, by signed POSTs, when a comment is created, held, approved, rejected or spam."""
