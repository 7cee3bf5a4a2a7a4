"""The credential chain as configuration: which provider the environment chooses, in Alibaba's
order; the account identity; STS endpoints; one-line errors naming the variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cams.credentials import Credentials, StaticSource, credential_source
from bot.cams.credentials.env import session_name
from bot.cams.credentials.sts import sts_endpoint
from bot.config import ConfigError, Secret

UID = "1234567890123456"
ROLE = f"acs:ram::{UID}:role/flowpreview"
PROVIDER = f"acs:ram::{UID}:oidc-provider/ack-rrsa-c1"
AK = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tKey", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cret"}


@pytest.fixture
def token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    return str(path)


def _oidc(token_file: str) -> dict[str, str]:
    return {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": token_file,
    }


ECS = {"ALIBABA_CLOUD_ECS_METADATA": "flowpreview-role", "CAMS_ACCOUNT_ID": UID}
URI = {"ALIBABA_CLOUD_CREDENTIALS_URI": "http://127.0.0.1:7001/v1/credentials"}


@pytest.mark.parametrize(
    ("layers", "provider", "account"),
    [
        (["ak"], "environment AccessKey (", "LTAI5tKey"),
        (["ak", "token"], "environment AccessKey with an STS token", "LTAI5tKey"),
        (["ak", "role"], f"AssumeRole as {ROLE} with the environment AccessKey", UID),
        # The AccessKey comes first in Alibaba's chain; ROLE_ARN then belongs to OIDC.
        (["ak", "oidc"], "environment AccessKey (", "LTAI5tKey"),
        (["oidc"], f"OIDC/RRSA: AssumeRoleWithOIDC as {ROLE} on sts.aliyuncs.com", UID),
        (["oidc", "ecs", "uri"], "OIDC/RRSA", UID),
        (["ecs", "uri"], "ECS RAM role flowpreview-role (instance metadata)", UID),
        (["ecs", "ecs-off", "uri"], "credentials URI at http://127.0.0.1:7001", UID),
        (["uri"], "credentials URI at http://127.0.0.1:7001", UID),
        (["ak", "ecs", "uri"], "environment AccessKey (", UID),
    ],
)
def test_the_chain_picks_providers_in_alibabas_order(
    token_file: str, layers: list[str], provider: str, account: str
) -> None:
    parts = {
        "ak": AK,
        "token": {"ALIBABA_CLOUD_SECURITY_TOKEN": "CAIS-token"},
        "role": {"ALIBABA_CLOUD_ROLE_ARN": ROLE},
        "oidc": _oidc(token_file),
        "ecs": ECS,
        "ecs-off": {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "TRUE"},
        "uri": {**URI, "CAMS_ACCOUNT_ID": UID},
    }
    env = {name: value for layer in layers for name, value in parts[layer].items()}

    source = credential_source(env)

    assert source.provider.startswith(provider)
    assert source.account == account
    assert "s3cret" not in source.provider
    assert "CAIS-token" not in source.provider


async def test_a_static_access_key_is_the_source_itself() -> None:
    source = credential_source({**AK, "ALIBABA_CLOUD_SECURITY_TOKEN": "CAIS-token"})

    credentials = await source.current()

    assert isinstance(source, StaticSource)
    assert credentials.access_key_id == "LTAI5tKey"
    assert credentials.access_key_secret == Secret("s3cret")
    assert credentials.security_token == Secret("CAIS-token")
    assert source.expires_at() is None
    await source.close()


@pytest.mark.parametrize(
    ("env", "account"),
    [
        (AK, "LTAI5tKey"),
        ({**AK, "CAMS_ACCOUNT_ID": "5550001"}, "5550001"),
        ({**AK, "ALIBABA_CLOUD_ROLE_ARN": ROLE}, UID),
        ({**AK, "ALIBABA_CLOUD_ROLE_ARN": ROLE, "CAMS_ACCOUNT_ID": "5550001"}, "5550001"),
    ],
)
def test_the_account_is_cams_account_id_then_the_roles_uid_then_the_key_id(
    env: dict[str, str], account: str
) -> None:
    assert credential_source(env).account == account


def test_bare_credentials_are_keyed_by_their_key_id() -> None:
    source = StaticSource(Credentials("id", Secret("s")))
    assert source.account == "id"
    assert source.provider == "static"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        (
            {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ROLE_ARN": ROLE},
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        ),
        ({"ALIBABA_CLOUD_ROLE_ARN": ROLE}, "ALIBABA_CLOUD_ROLE_ARN"),
        ({**AK, "ALIBABA_CLOUD_ROLE_ARN": "arn:aws:iam::1:role/x"}, "ALIBABA_CLOUD_ROLE_ARN"),
        (
            {"ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER},
            "ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        ),
        (
            {"ALIBABA_CLOUD_ROLE_ARN": ROLE, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/t"},
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        ),
        (
            {**AK, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/t"},
            "ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        ),
        ({**ECS, "CAMS_ACCOUNT_ID": ""}, "CAMS_ACCOUNT_ID"),
        (URI, "CAMS_ACCOUNT_ID"),
        ({**ECS, "ALIBABA_CLOUD_IMDSV1_DISABLED": "1"}, "ALIBABA_CLOUD_IMDSV1_DISABLED"),
        ({**AK, "CAMS_ACCOUNT_ID": "acct 1"}, "CAMS_ACCOUNT_ID"),
        (
            {**AK, "ALIBABA_CLOUD_ROLE_ARN": ROLE, "ALIBABA_CLOUD_ROLE_SESSION_NAME": "a b"},
            "ALIBABA_CLOUD_ROLE_SESSION_NAME",
        ),
        (
            {**AK, "ALIBABA_CLOUD_ROLE_ARN": ROLE, "ALIBABA_CLOUD_STS_ENDPOINT": "http://sts.x"},
            "ALIBABA_CLOUD_STS_ENDPOINT",
        ),
    ],
)
def test_a_missing_or_broken_provider_is_one_line_naming_its_variables(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        credential_source(env)
    assert caught.value.variable == variable
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/nonexistent/token"}, "ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
        (
            {"ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::1:role/x"},
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        ),
        ({"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "yes"}, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
    ],
)
def test_a_broken_oidc_setting_is_named(
    token_file: str, extra: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        credential_source({**_oidc(token_file), **extra})
    assert caught.value.variable == variable


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://credentials.internal/v1", "plain http is allowed only for loopback"),
        ("http://user:pw@127.0.0.1/v1", "without user or password"),
        ("sidecar:8080/credentials", "expected http(s)"),
        ("ftp://127.0.0.1/credentials", "scheme must be https"),
    ],
)
def test_a_credentials_uri_is_https_or_loopback_http(uri: str, problem: str) -> None:
    env = {"ALIBABA_CLOUD_CREDENTIALS_URI": uri, "CAMS_ACCOUNT_ID": UID}
    with pytest.raises(ConfigError) as caught:
        credential_source(env)
    assert caught.value.variable == "ALIBABA_CLOUD_CREDENTIALS_URI"
    assert problem in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "https://sts.aliyuncs.com"),
        ({"ALIBABA_CLOUD_STS_REGION": "cn-hangzhou"}, "https://sts.cn-hangzhou.aliyuncs.com"),
        (
            {
                "ALIBABA_CLOUD_STS_REGION": "cn-hangzhou",
                "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true",
            },
            "https://sts-vpc.cn-hangzhou.aliyuncs.com",
        ),
        (
            {
                "ALIBABA_CLOUD_STS_REGION": "cn-hangzhou",
                "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "false",
            },
            "https://sts.cn-hangzhou.aliyuncs.com",
        ),
        (
            {
                "ALIBABA_CLOUD_STS_ENDPOINT": "sts-vpc.ap-southeast-1.aliyuncs.com",
                "ALIBABA_CLOUD_STS_REGION": "cn-hangzhou",
            },
            "https://sts-vpc.ap-southeast-1.aliyuncs.com",
        ),
        (
            {"ALIBABA_CLOUD_STS_ENDPOINT": "https://sts.example.com:8443"},
            "https://sts.example.com:8443",
        ),
        ({"ALIBABA_CLOUD_STS_ENDPOINT": "http://127.0.0.1:9100/"}, "http://127.0.0.1:9100"),
        ({"ALIBABA_CLOUD_STS_ENDPOINT": "http://[::1]:9100"}, "http://[::1]:9100"),
    ],
)
def test_the_sts_endpoint_is_resolved_as_the_sdks_do(env: dict[str, str], url: str) -> None:
    assert sts_endpoint(env).base_url == url


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ALIBABA_CLOUD_STS_ENDPOINT": "http://sts.aliyuncs.com"}, "ALIBABA_CLOUD_STS_ENDPOINT"),
        ({"ALIBABA_CLOUD_STS_ENDPOINT": "https://sts.x/path"}, "ALIBABA_CLOUD_STS_ENDPOINT"),
        ({"ALIBABA_CLOUD_STS_REGION": "cn_hangzhou!"}, "ALIBABA_CLOUD_STS_REGION"),
        ({"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true"}, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
    ],
)
def test_a_bad_sts_endpoint_setting_is_named(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sts_endpoint(env)
    assert caught.value.variable == variable


def test_the_session_name_names_the_host_within_sts_rules() -> None:
    assert session_name({}, "bot-7d9f/replica 1") == "flowpreview-bot-7d9f-replica-1"
    assert len(session_name({}, "h" * 100)) == 64
    assert session_name({"ALIBABA_CLOUD_ROLE_SESSION_NAME": "ops@eu"}, "x") == "ops@eu"
