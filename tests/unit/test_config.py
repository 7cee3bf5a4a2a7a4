"""Configuration from the environment: defaults, validation, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cams.actions import Action
from bot.cams.credentials import Credentials
from bot.cams.errors import ErrorKind, classify
from bot.cams.settings import CamsSettings
from bot.config import ConfigError, Endpoint
from bot.preview.limiter import LimiterSettings
from bot.preview.settings import PreviewSettings, rate_variable


def test_defaults() -> None:
    settings = CamsSettings.from_env({})
    assert settings.endpoint == Endpoint("https", "cams.ap-southeast-1.aliyuncs.com", 443)
    assert settings.default_space is None
    assert (settings.connect_timeout, settings.attempt_timeout) == (5.0, 10.0)
    assert settings.deadline < 30


@pytest.mark.parametrize(
    ("value", "base_url"),
    [
        ("cams.ap-southeast-1.aliyuncs.com", "https://cams.ap-southeast-1.aliyuncs.com"),
        ("https://cams.example.com:8443/", "https://cams.example.com:8443"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://127.8.9.10:9000", "http://127.8.9.10:9000"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("HTTPS://CAMS.Example.COM", "https://cams.example.com"),
        ("[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
        ("https://10.0.0.5", "https://10.0.0.5"),
        ("xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://cams.example.com:", "https://cams.example.com"),
    ],
)
def test_accepted_endpoints(value: str, base_url: str) -> None:
    assert CamsSettings.from_env({"CAMS_ENDPOINT": value}).endpoint.base_url == base_url


@pytest.mark.parametrize(
    "value",
    [
        "http://cams.ap-southeast-1.aliyuncs.com",
        "http://192.168.1.10:9000",
        "ftp://cams.example.com",
        "https://user:pw@cams.example.com",
        "https://cams.example.com/path",
        "https://cams.example.com/?x=1",
        "https://",
        # Not a host: spaces, empty or malformed labels, bad addresses, odd ports.
        "not a url",
        "https://cams.example .com",
        "cams.exa\tmple.com",
        "https://cams\x00.example.com",
        "https://cams..example.com",
        "https://.example.com",
        "https://cams.example.com.",
        "https://-cams.example.com",
        "https://cams-.example.com",
        "https://cams_1.example.com",
        "https://cams%20x.example.com",
        "https://" + "a" * 64 + ".example.com",
        "https://" + ".".join(["a" * 63] * 4),
        "https://bücher.example",
        "https://999.1.1.1",
        "https://10.0.0",
        "https://0x7f.0.0.1",
        "https://[::1",
        "https://[not:an:address]",
        "https://[fe80::1%25eth0]",
        "::1",
        "https://cams.example.com:0",
        "https://cams.example.com:65536",
        "https://cams.example.com:+443",
        "https://cams.example.com:443x",
        "https://user@cams.example.com",
    ],
)
def test_refused_endpoints(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CamsSettings.from_env({"CAMS_ENDPOINT": value})
    assert caught.value.variable == "CAMS_ENDPOINT"
    assert "\n" not in str(caught.value)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAMS_CONNECT_TIMEOUT_S", "soon"),
        ("CAMS_ATTEMPT_TIMEOUT_S", "-1"),
        ("CAMS_DEADLINE_S", "nan"),
        ("CAMS_MAX_ATTEMPTS", "0"),
        ("CAMS_MAX_ATTEMPTS", "2.5"),
        ("CAMS_CONNECT_TIMEOUT_S", "30"),
    ],
)
def test_bad_numbers_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CamsSettings.from_env({name: value})
    assert caught.value.variable == name


def test_credentials_from_env() -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cret",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "tok3n",
    }
    credentials = Credentials.from_env(env)
    assert credentials.access_key_id == "id"
    assert credentials.access_key_secret.reveal() == "s3cret"
    assert credentials.security_token is not None
    assert "s3cret" not in repr(credentials)
    assert "tok3n" not in repr(credentials)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ({"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s", "ALIBABA_CLOUD_ACCESS_KEY_ID": " "}, None),
    ],
)
def test_missing_credentials_name_the_variables(env: dict[str, str], named: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        Credentials.from_env(env)
    assert caught.value.variable == (named or "ALIBABA_CLOUD_ACCESS_KEY_ID")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "Product.Unsubscript", ErrorKind.NOT_SUBSCRIBED),
        (400, "Ram.PermissionDeny", ErrorKind.PERMISSION_DENIED),
        (403, "Forbidden.RAM", ErrorKind.PERMISSION_DENIED),
        (400, "System.LimitControl", ErrorKind.THROTTLED),
        (400, "Throttling.User", ErrorKind.THROTTLED),
        (429, None, ErrorKind.THROTTLED),
        (400, "Unknown.ResourceOwnerId", ErrorKind.WRONG_OWNER),
        (404, "InvalidAccessKeyId.NotFound", ErrorKind.AUTH_FAILED),
        (400, "SignatureDoesNotMatch", ErrorKind.AUTH_FAILED),
        (400, "InvalidSecurityToken.Expired", ErrorKind.AUTH_FAILED),
        (503, "ServiceUnavailable", ErrorKind.SERVER_ERROR),
        (200, "ServiceUnavailable", ErrorKind.SERVER_ERROR),
        (502, None, ErrorKind.SERVER_ERROR),
        (404, "Flow.NotFound", ErrorKind.NOT_FOUND),
        (400, "NotExists.FlowId", ErrorKind.NOT_FOUND),
        (400, "InvalidParameter", ErrorKind.BAD_REQUEST),
        (200, "SomethingElse", ErrorKind.BAD_REQUEST),
    ],
)
def test_classification(status: int, code: str | None, kind: ErrorKind) -> None:
    assert classify(status, code) is kind


def test_only_transient_kinds_are_retryable() -> None:
    retryable = {kind for kind in ErrorKind if kind.retryable}
    assert retryable == {ErrorKind.THROTTLED, ErrorKind.SERVER_ERROR, ErrorKind.NETWORK}


def test_preview_settings_defaults_and_bounds() -> None:
    settings = PreviewSettings.from_env({})
    assert settings.limiter == LimiterSettings(rate=5, margin=0.1, max_wait=10.0, cooldown=1.0)
    assert (settings.cache_size, settings.negative_ttl) == (10_000, 30.0)
    tuned = PreviewSettings.from_env(
        {"CAMS_QPS": "3", "CAMS_RATE_MARGIN_S": "0", "CAMS_MAX_WAIT_S": "0", "CAMS_CACHE_SIZE": "5"}
    )
    assert (tuned.limiter.rate, tuned.limiter.margin, tuned.limiter.max_wait) == (3, 0.0, 0.0)
    assert tuned.cache_size == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAMS_QPS", "0"),
        ("CAMS_QPS", "five"),
        ("CAMS_RATE_MARGIN_S", "-0.1"),
        ("CAMS_MAX_WAIT_S", "inf"),
        ("CAMS_CACHE_SIZE", "0"),
        ("CAMS_NEGATIVE_TTL_S", "31"),
        ("CAMS_THROTTLE_COOLDOWN_S", "x"),
        ("CAMS_MAX_COOLDOWN_S", "0"),
        ("CAMS_MAX_COOLDOWN_S", "x"),
        ("CAMS_MAX_COOLDOWN_S", "nan"),
    ],
)
def test_bad_preview_settings_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PreviewSettings.from_env({name: value})
    assert caught.value.variable == name


def test_cams_qps_is_each_actions_rate() -> None:
    settings = PreviewSettings.from_env({"CAMS_QPS": "3", "CAMS_RATE_MARGIN_S": "0.2"})
    for action in Action:
        assert settings.limiter_for(action) == LimiterSettings(rate=3, margin=0.2)


def test_each_action_may_have_a_rate_of_its_own() -> None:
    settings = PreviewSettings.from_env(
        {"CAMS_QPS": "4", "CAMS_QPS_LISTFLOW": "1", "CAMS_QPS_GETFLOW": "2", "CAMS_MAX_WAIT_S": "3"}
    )
    rates = {action: settings.limiter_for(action).rate for action in Action}
    assert rates == {Action.GET_FLOW_PREVIEW_URL: 4, Action.LIST_FLOW: 1, Action.GET_FLOW: 2}
    assert {settings.limiter_for(action).max_wait for action in Action} == {3.0}
    alone = PreviewSettings.from_env({"CAMS_QPS_GETFLOWPREVIEWURL": "2"})
    assert alone.limiter_for(Action.GET_FLOW_PREVIEW_URL).rate == 2
    assert alone.limiter_for(Action.LIST_FLOW).rate == 5


def test_settings_made_in_code_give_every_action_the_one_budget() -> None:
    settings = PreviewSettings(limiter=LimiterSettings(rate=7))
    assert {settings.limiter_for(action).rate for action in Action} == {7}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_rate_of_an_action_names_its_variable(action: Action, value: str) -> None:
    variable = rate_variable(action)
    with pytest.raises(ConfigError) as caught:
        PreviewSettings.from_env({variable: value})
    assert caught.value.variable == variable


def test_the_rate_variables() -> None:
    assert [rate_variable(action) for action in Action] == [
        "CAMS_QPS_GETFLOWPREVIEWURL",
        "CAMS_QPS_LISTFLOW",
        "CAMS_QPS_GETFLOW",
    ]


def test_a_cooldown_longer_than_its_cap_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        PreviewSettings.from_env({"CAMS_THROTTLE_COOLDOWN_S": "40"})
    assert caught.value.variable == "CAMS_THROTTLE_COOLDOWN_S"
    capped = PreviewSettings.from_env(
        {"CAMS_MAX_COOLDOWN_S": "60", "CAMS_THROTTLE_COOLDOWN_S": "40"}
    )
    assert (capped.limiter.cooldown, capped.limiter.max_cooldown) == (40.0, 60.0)


def test_ca_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        CamsSettings.from_env({"CAMS_CA_FILE": str(tmp_path / "missing.pem")})
    assert caught.value.variable == "CAMS_CA_FILE"
    present = tmp_path / "ca.pem"
    present.write_text("x")
    assert CamsSettings.from_env({"CAMS_CA_FILE": str(present)}).ca_file == str(present)


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://:pw@cache.internal:6380/1", "unix:///run/r.sock"]
)
def test_redis_url_accepted(url: str) -> None:
    settings = PreviewSettings.from_env({"REDIS_URL": url, "CAMS_REPLICAS": "3"})
    assert (settings.redis_url, settings.replicas) == (url, 3)


@pytest.mark.parametrize(
    "url", ["localhost:6379", "http://localhost:6379", "redis://host:port", "redis://h:99999999"]
)
def test_bad_redis_url_syntax_is_a_start_up_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PreviewSettings.from_env({"REDIS_URL": url})
    assert caught.value.variable == "REDIS_URL"


def test_without_redis_url_nothing_is_shared() -> None:
    settings = PreviewSettings.from_env({})
    assert settings.redis_url is None
    assert settings.replicas == 2
