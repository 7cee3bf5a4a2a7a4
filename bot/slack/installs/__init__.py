"""Multi-workspace installs: Bolt's OAuth flow, signed install states and token rotation."""
