"""The HTTP edge: verifying, reading and counting Slack's requests, and posting replies only
to Slack's hosts."""
