"""Stand-ins for Alibaba Cloud's credential providers, apart from the production code.

- `sts`: STS, answering AssumeRole (signed) and AssumeRoleWithOIDC (anonymous, with a token
  from `oidc.OidcIssuer`, a cluster's service-account token issuer);
- `metadata`: the ECS instance metadata service, with IMDSv2 session tokens;
- `uri`: a credentials URI server.

All of them issue STS-style credentials from a `keys.KeyMint`; a CAMS emulator given the same
mint accepts them until they expire. Each has latency and failure injection (`trouble`).
`python -m bot.standin.alibaba` serves them for benchmarks and the demo.
"""
