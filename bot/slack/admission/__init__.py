"""Who may ask: the asker, the access gate, Slack's directory, the Slack side of the audit
trail, and `/flowpreview config`."""
