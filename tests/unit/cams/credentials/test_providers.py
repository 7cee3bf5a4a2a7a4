"""Each provider of temporary credentials over loopback, against the stand-ins: STS (AssumeRole
and AssumeRoleWithOIDC), the ECS metadata service with IMDSv2, and a credentials URI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cams.credentials import Credentials, CredentialsError, CredentialSource, credential_source
from bot.cams.credentials.ecs import ecs_provider
from bot.cams.credentials.refresh import RefreshingSource
from bot.cams.credentials.sts import StsClient, StsError
from bot.config import Endpoint, Secret
from bot.standin.alibaba.sts import DEFAULT_PROVIDER_ARN
from tests.alibaba_standins import ACCOUNT, ECS_ROLE, ROLE_ARN, USER, Standins, running_standins
from tests.fake_clock import FakeClock


@pytest.fixture
async def standins(tmp_path: Path) -> AsyncIterator[Standins]:
    async with running_standins(tmp_path) as running:
        yield running


async def _first(source: CredentialSource) -> Credentials:
    try:
        return await source.current()
    finally:
        await source.close()


def _ecs_source(standins: Standins, **env: str) -> RefreshingSource:
    provider = ecs_provider(
        {"ALIBABA_CLOUD_ECS_METADATA": ECS_ROLE, "CAMS_ACCOUNT_ID": ACCOUNT, **env},
        metadata_url=standins.metadata_url,
    )
    return RefreshingSource(provider.fetcher, provider=provider.name, account=provider.account)


def _issued_by(standins: Standins, credentials: Credentials) -> None:
    """`credentials` are a grant of the mint, for ACCOUNT, exactly as issued."""
    grant = standins.mint.check(credentials.access_key_id)
    assert grant is not None
    assert grant.account == ACCOUNT
    assert grant.credentials == credentials


async def test_oidc_assumes_the_role_with_the_token_anonymously(standins: Standins) -> None:
    jti = standins.write_token()
    source = credential_source(
        standins.oidc_env(ALIBABA_CLOUD_ROLE_SESSION_NAME="flowpreview-test")
    )

    credentials = await _first(source)

    _issued_by(standins, credentials)
    assert credentials.access_key_id.startswith("STS.")
    assert source.account == ACCOUNT
    assert list(standins.sts.token_ids) == [jti]
    assert list(standins.sts.session_names) == ["flowpreview-test"]
    assert standins.sts.trouble.counts["AssumeRoleWithOIDC"] == 1


async def test_oidc_rereads_the_token_file_at_every_refresh(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_standins(tmp_path, clock=clock.time) as standins:
        first_jti = standins.write_token()
        source = credential_source(standins.oidc_env(), clock=clock.time, sleep=clock.sleep)
        first = await source.current()
        assert await clock.next_sleep() == pytest.approx(2400)

        # The kubelet rotates the projected token; the next refresh must send the new one.
        second_jti = standins.write_token()
        clock.advance(2400)
        await clock.next_sleep()
        second = await source.current()
        await source.close()

    assert list(standins.sts.token_ids) == [first_jti, second_jti]
    assert second.access_key_id != first.access_key_id


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-jwt", "AuthenticationFail.OIDCToken.Invalid"),
        ("e30.e30.forged-signature", "AuthenticationFail.OIDCToken.Invalid"),
    ],
)
async def test_oidc_refusals_say_stss_code_and_never_the_token(
    standins: Standins, token: str, code: str
) -> None:
    standins.token_file.write_text(token)

    with pytest.raises(CredentialsError) as caught:
        await _first(credential_source(standins.oidc_env()))

    assert code in str(caught.value)
    assert "RequestId" in str(caught.value)
    assert token not in str(caught.value)


async def test_an_expired_oidc_token_is_refused(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_standins(tmp_path, clock=clock.time) as standins:
        standins.write_token()
        clock.advance(3601)
        with pytest.raises(CredentialsError, match=r"OIDCToken\.Expired"):
            await _first(credential_source(standins.oidc_env()))


async def test_oidc_needs_a_known_provider(standins: Standins) -> None:
    env = standins.oidc_env(
        ALIBABA_CLOUD_OIDC_PROVIDER_ARN=DEFAULT_PROVIDER_ARN.replace("standin", "other")
    )
    with pytest.raises(CredentialsError, match=r"EntityNotExist\.OIDCProvider"):
        await _first(credential_source(env))


async def test_an_empty_or_vanished_token_file_is_a_refresh_failure(standins: Standins) -> None:
    source = credential_source(standins.oidc_env())
    standins.token_file.write_text("\n")
    with pytest.raises(CredentialsError, match=r"ALIBABA_CLOUD_OIDC_TOKEN_FILE .* is empty"):
        await _first(source)
    source = credential_source(standins.oidc_env())
    standins.token_file.unlink()
    with pytest.raises(CredentialsError, match="cannot read ALIBABA_CLOUD_OIDC_TOKEN_FILE"):
        await _first(source)
    assert standins.sts.trouble.counts["AssumeRoleWithOIDC"] == 0


async def test_assume_role_signs_with_the_environment_access_key(standins: Standins) -> None:
    source = credential_source(standins.assume_role_env())

    credentials = await _first(source)

    _issued_by(standins, credentials)
    assert source.account == ACCOUNT
    assert standins.sts.trouble.counts["AssumeRole"] == 1
    assert standins.sts.trouble.counts["issued"] == 1


async def test_assume_role_with_a_wrong_secret_is_refused(standins: Standins) -> None:
    env = standins.assume_role_env(ALIBABA_CLOUD_ACCESS_KEY_SECRET="not-the-secret")
    with pytest.raises(CredentialsError, match="STS AssumeRole failed: SignatureDoesNotMatch"):
        await _first(credential_source(env))


async def test_assume_role_chains_from_sts_credentials_with_their_token(
    standins: Standins,
) -> None:
    """An STS AccessKey (with its token, signed as x-acs-security-token) may assume a role."""
    caller = standins.mint.issue(ACCOUNT, 2_000_000_000)
    assert caller.security_token is not None
    sts = StsClient(Endpoint.parse(standins.sts_url))
    try:
        assumed = await sts.assume_role(caller, ROLE_ARN, "chained")
        wrong = Credentials(caller.access_key_id, caller.access_key_secret, Secret("CAIS-other"))
        with pytest.raises(StsError) as caught:
            await sts.assume_role(wrong, ROLE_ARN, "chained")
    finally:
        await sts.close()
    _issued_by(standins, assumed)
    assert caught.value.code == "InvalidSecurityToken.Mismatch"


async def test_an_sts_outage_is_told_with_its_code_and_request_id(standins: Standins) -> None:
    standins.sts.trouble.fail(503, "ServiceUnavailable", count=1)
    with pytest.raises(CredentialsError) as caught:
        await _first(credential_source(standins.assume_role_env()))
    assert str(caught.value).startswith("STS AssumeRole failed: ServiceUnavailable: ")
    assert "(RequestId " in str(caught.value)


async def test_ecs_uses_an_imdsv2_token(standins: Standins) -> None:
    source = _ecs_source(standins)

    credentials = await _first(source)

    _issued_by(standins, credentials)
    assert source.provider == f"ECS RAM role {ECS_ROLE} (instance metadata)"
    counts = standins.metadata.trouble.counts
    assert (counts["token"], counts["v2"], counts["v1"]) == (1, 1, 0)


async def test_ecs_falls_back_to_imdsv1_when_no_token_is_given(standins: Standins) -> None:
    standins.metadata.tokens = False

    credentials = await _first(_ecs_source(standins))

    _issued_by(standins, credentials)
    counts = standins.metadata.trouble.counts
    assert (counts["token"], counts["v2"], counts["v1"]) == (1, 0, 1)


async def test_ecs_never_uses_imdsv1_when_it_is_disabled(standins: Standins) -> None:
    standins.metadata.tokens = False
    source = _ecs_source(standins, ALIBABA_CLOUD_IMDSV1_DISABLED="true")

    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_IMDSV1_DISABLED forbids IMDSv1"):
        await _first(source)
    assert standins.metadata.trouble.counts["v1"] == 0


async def test_ecs_works_on_an_instance_that_refuses_imdsv1(standins: Standins) -> None:
    standins.metadata.require_token = True
    source = _ecs_source(standins, ALIBABA_CLOUD_IMDSV1_DISABLED="true")

    _issued_by(standins, await _first(source))


async def test_ecs_names_a_role_the_instance_does_not_have(standins: Standins) -> None:
    provider = ecs_provider(
        {"ALIBABA_CLOUD_ECS_METADATA": "other-role", "CAMS_ACCOUNT_ID": ACCOUNT},
        metadata_url=standins.metadata_url,
    )
    with pytest.raises(CredentialsError, match="knows no role 'other-role'"):
        await _first(RefreshingSource(provider.fetcher, provider="ecs", account=ACCOUNT))


async def test_the_credentials_uri_gives_credentials(standins: Standins) -> None:
    source = credential_source(
        {"ALIBABA_CLOUD_CREDENTIALS_URI": standins.uri_url, "CAMS_ACCOUNT_ID": ACCOUNT}
    )

    credentials = await _first(source)

    _issued_by(standins, credentials)
    assert source.provider == f"credentials URI at {standins.uri_url.rsplit('/v1', 1)[0]}"


@pytest.mark.parametrize(
    ("status", "code", "problem"),
    [(500, "InternalError", "answered HTTP 500"), (200, "Failure", "answered Code 'Failure'")],
)
async def test_a_credentials_uri_failure_is_told(
    standins: Standins, status: int, code: str, problem: str
) -> None:
    standins.uri.trouble.fail(status, code, count=1)
    source = credential_source(
        {"ALIBABA_CLOUD_CREDENTIALS_URI": standins.uri_url, "CAMS_ACCOUNT_ID": ACCOUNT}
    )
    with pytest.raises(CredentialsError, match=problem):
        await _first(source)


async def test_an_unreachable_provider_is_a_credentials_error(standins: Standins) -> None:
    env = standins.assume_role_env(ALIBABA_CLOUD_STS_ENDPOINT="http://127.0.0.1:9")
    with pytest.raises(CredentialsError, match=r"cannot reach STS at 127\.0\.0\.1"):
        await _first(credential_source(env))


async def test_many_asks_at_start_up_share_one_fetch(standins: Standins) -> None:
    source = credential_source(standins.assume_role_env())
    try:
        results = await asyncio.gather(*(source.current() for _ in range(20)))
    finally:
        await source.close()
    assert len({credentials.access_key_id for credentials in results}) == 1
    assert standins.sts.trouble.counts["AssumeRole"] == 1
    assert USER.access_key_id not in {credentials.access_key_id for credentials in results}
