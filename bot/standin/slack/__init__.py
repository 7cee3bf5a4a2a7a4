"""A local stand-in for Slack, for `python -m bot demo` and for the test suite.

The bot runs unchanged: it serves its usual endpoint, reaches the Web API through
`AsyncWebClient(base_url=fake.api_url)` and answers through `ack` and `response_url`. The pieces:

- `signing`: v0 request signatures, as Slack computes them when it calls the bot;
- `payloads`: slash command, message shortcut and block_actions bodies in Slack's shapes;
- `limits`: the Block Kit limits Slack enforces before it shows a message;
- `fake_slack`: the Web API and the response_url receiver on one loopback aiohttp app;
- `garbage`: what a proxy, or Slack in trouble, answers instead of JSON (`FakeSlack.garble`);
- `mrkdwn` and `render_text`: messages turned into terminal text with numbered buttons;
- `terminal`: the REPL a person (or a test) types `/flowpreview <id>` into.
"""
