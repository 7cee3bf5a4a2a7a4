"""flowpreview: a Slack bot that fetches WhatsApp Flow preview links from Alibaba Cloud CAMS."""

__version__ = "0.2.0"
