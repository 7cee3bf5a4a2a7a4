"""The credential stand-ins (STS, ECS metadata, a credentials URI) on loopback ports, sharing one
key mint with each other and with the CAMS emulator of a test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.cams.credentials import Credentials
from bot.config import Secret
from bot.serving import serving
from bot.standin.alibaba.keys import KeyMint
from bot.standin.alibaba.metadata import FakeEcsMetadata
from bot.standin.alibaba.oidc import OidcIssuer
from bot.standin.alibaba.sts import DEFAULT_PROVIDER_ARN, FakeSts
from bot.standin.alibaba.uri import CredentialsUriServer

ACCOUNT = "1234567890123456"
ROLE_ARN = f"acs:ram::{ACCOUNT}:role/flowpreview"
ECS_ROLE = "flowpreview-ecs"
# A RAM user of ACCOUNT, allowed to assume ROLE_ARN.
USER = Credentials("LTAI5tStandinUser", Secret("standin-user-secret"))


@dataclass
class Standins:
    """The running stand-ins and what a test needs to point the bot at them."""

    mint: KeyMint
    issuer: OidcIssuer
    sts: FakeSts
    sts_url: str
    metadata: FakeEcsMetadata
    metadata_url: str
    uri: CredentialsUriServer
    uri_url: str
    token_file: Path

    def write_token(self) -> str:
        """Put a fresh service-account token in the token file, as the kubelet does; its jti."""
        token = self.issuer.token()
        self.token_file.write_text(token)
        return str(self.issuer.check(token)["jti"])

    def oidc_env(self, **more: str) -> dict[str, str]:
        """RRSA's variables, with STS at the stand-in."""
        return {
            "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": DEFAULT_PROVIDER_ARN,
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(self.token_file),
            "ALIBABA_CLOUD_STS_ENDPOINT": self.sts_url,
            **more,
        }

    def assume_role_env(self, **more: str) -> dict[str, str]:
        """USER's AccessKey and ROLE_ARN, with STS at the stand-in."""
        return {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": USER.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": USER.access_key_secret.reveal(),
            "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
            "ALIBABA_CLOUD_STS_ENDPOINT": self.sts_url,
            **more,
        }


@asynccontextmanager
async def running_standins(
    directory: Path,
    *,
    clock: Callable[[], float] = time.time,
    sts_lifetime: float | None = None,
) -> AsyncIterator[Standins]:
    """Serve the three stand-ins on free loopback ports; `clock` is their wall clock."""
    mint = KeyMint()
    issuer = OidcIssuer(clock=clock)
    sts = FakeSts(
        mint,
        users=[(USER, ACCOUNT)],
        providers={DEFAULT_PROVIDER_ARN: issuer},
        lifetime=sts_lifetime,
        wall_clock=clock,
    )
    metadata = FakeEcsMetadata(mint, role=ECS_ROLE, account=ACCOUNT, wall_clock=clock)
    uri = CredentialsUriServer(mint, account=ACCOUNT, wall_clock=clock)
    async with AsyncExitStack() as stack:
        urls = [
            await stack.enter_async_context(serving(app.app(), shutdown_timeout=0.5))
            for app in (sts, metadata, uri)
        ]
        standins = Standins(
            mint=mint,
            issuer=issuer,
            sts=sts,
            sts_url=urls[0],
            metadata=metadata,
            metadata_url=urls[1],
            uri=uri,
            uri_url=urls[2] + uri.path,
            token_file=directory / "token",
        )
        standins.write_token()
        yield standins
