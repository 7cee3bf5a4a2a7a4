"""Watches: channels hear when a flow's status changes, or a watched space gains or loses one."""
