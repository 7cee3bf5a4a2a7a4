"""`python -m bot.standin.alibaba`: the stand-in STS on a port of its own, for benchmarks and
demos that need it in another process.

With `--token-file`, a service-account token that the STS accepts is written there first, as the
cluster would mount it: point ALIBABA_CLOUD_OIDC_TOKEN_FILE at it, ALIBABA_CLOUD_ROLE_ARN at any
`acs:ram::<uid>:role/<name>`, ALIBABA_CLOUD_OIDC_PROVIDER_ARN at the one printed, and
ALIBABA_CLOUD_STS_ENDPOINT at the URL printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

from bot.standin.alibaba.keys import KeyMint
from bot.standin.alibaba.oidc import OidcIssuer
from bot.standin.alibaba.sts import DEFAULT_PROVIDER_ARN, FakeSts

# The token must outlast any run: a day.
TOKEN_LIFETIME_S = 24 * 3600


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bot.standin.alibaba", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--lifetime",
        type=float,
        help="seconds issued credentials live (default: what DurationSeconds asks)",
    )
    parser.add_argument("--token-file", type=Path, help="write an accepted OIDC token here")
    parser.add_argument(
        "--mint-secret",
        help="hex secret of the key mint, for an emulator that must accept the keys issued",
    )
    args = parser.parse_args(argv)
    issuer = OidcIssuer()
    if args.token_file is not None:
        args.token_file.write_text(issuer.token(lifetime=TOKEN_LIFETIME_S))
    mint = KeyMint(bytes.fromhex(args.mint_secret) if args.mint_secret else None)
    sts = FakeSts(mint, providers={DEFAULT_PROVIDER_ARN: issuer}, lifetime=args.lifetime)
    sts.trouble.latency = args.latency
    print(
        f"stand-in STS on http://{args.host}:{args.port}, OIDC provider {DEFAULT_PROVIDER_ARN}",
        file=sys.stderr,
        flush=True,
    )
    web.run_app(sts.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
