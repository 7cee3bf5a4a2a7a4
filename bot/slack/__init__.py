"""The Slack face of flowpreview: a Bolt AsyncApp, its listeners and message rendering."""
