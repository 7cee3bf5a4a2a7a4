"""Where the bot keeps what must outlive a process: the audit trail, and later access rules.

Knows nothing of Slack or CAMS: callers hand it plain records.
"""
