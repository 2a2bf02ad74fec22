"""Discussion settings in the console: closing threads, replies, page size, auto-approve, trusted and blocked lists."""
