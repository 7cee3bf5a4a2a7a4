"""Names the Slack app is registered under; manifest.yml must use the same ones."""

COMMAND = "/flowpreview"
SHORTCUT_CALLBACK_ID = "get_flow_preview"
OPEN_ACTION_ID = "open_preview"
SHARE_ACTION_ID = "share_preview"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
