"""Block Kit: every message and modal the bot shows, as plain dicts."""
