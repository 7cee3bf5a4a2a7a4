"""Who may ask: the asker, the access gate, Slack's directory, and the Slack side of the audit
trail."""
