"""Stand-ins for the outside world, apart from the production code.

- `cams`: the CAMS endpoint (signatures, throttling, faults, a flow catalog per space);
- `slack`: Slack's side: signed requests, the Web API, response_url, and a terminal renderer;
- `alibaba`: Alibaba Cloud's credential providers: STS, the ECS metadata service, a credentials
  URI.

The bot talks to them exactly as it talks to the real services, over loopback.
"""
