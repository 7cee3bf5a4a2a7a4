"""The bot's Slack Web API client: every answer that is not a success becomes one SlackWebError.

slack_sdk hands back whatever Slack, or a proxy in front of it, answered: a JSON object, but also
plain text, a list or a string, on which its own checks then fail with errors of several types,
some not its own. Every Web API client the bot makes is a SlackWebClient, so its callers (and
Bolt, for auth.test and oauth.v2.access) see either a successful JSON object or a SlackWebError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import FlowpreviewError

# Slack's error codes and scope lists are short words: anything else is not Slack's, and is not
# repeated in a log line.
_WORD = re.compile(r"[A-Za-z0-9_.:,-]{1,100}")
_MEDIA_TYPE = re.compile(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,60}")
# Slack asks for seconds to a minute; a longer Retry-After is someone else's mistake.
MAX_RETRY_AFTER_S = 3600


class WebErrorKind(StrEnum):
    """Why a Web API call gave no usable answer."""

    # Slack answered `ok: false` with an error code (`code`).
    REFUSED = "refused"
    # HTTP 429: `retry_after` says when to ask again.
    RATE_LIMITED = "rate_limited"
    # Any other HTTP status but 200: Slack, or a proxy in front of it, is in trouble.
    HTTP_ERROR = "http_error"
    # HTTP 200 with a body that is not a JSON object Slack would send.
    UNUSABLE = "unusable"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"


class SlackWebError(SlackApiError, FlowpreviewError):
    """A Web API call to `method` failed; `kind` says how.

    `problem` is the message without the method. `code` is Slack's error code when it sent one
    (`needed`, the scopes a missing_scope names),
    `status` the HTTP status when there was an answer, `retry_after` the seconds a 429 asks to
    wait. The message is one line, the method and the problem, with nothing of the answer but a
    code. A SlackApiError, so that Bolt and slack_sdk handle it where they handle Slack's
    refusals; its `response` always holds a JSON object, whose `error` is `code` or the kind.
    """

    def __init__(
        self,
        kind: WebErrorKind,
        method: str,
        problem: str,
        response: AsyncSlackResponse,
        *,
        code: str | None = None,
        needed: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        # Not SlackApiError.__init__: it appends the whole answer on a second line.
        Exception.__init__(self, f"{method}: {problem}")
        self.response = response
        self.kind = kind
        self.method = method
        self.problem = problem
        self.code = code
        self.needed = needed
        self.status = status
        self.retry_after = retry_after


class SlackWebClient(AsyncWebClient):
    """AsyncWebClient whose calls either succeed with a JSON object or raise SlackWebError."""

    async def _request(
        self, *, http_verb: str, api_url: str, req_args: dict[str, Any]
    ) -> dict[str, Any]:
        # Every call's HTTP exchange comes through here, after slack_sdk's retries and before
        # its checks, whichever method made it (pagination too).
        call = _Call(self, http_verb, api_url, req_args)
        try:
            answer: dict[str, Any] = await super()._request(
                http_verb=http_verb, api_url=api_url, req_args=req_args
            )
        except SlackApiError as error:
            # slack_sdk's own, for a body under application/json that does not parse.
            status = getattr(error.response, "status", None)
            headers = getattr(error.response, "headers", None)
            raise call.failed(
                status if isinstance(status, int) else 0, None, headers, "invalid JSON"
            ) from None
        except UnicodeDecodeError:
            # aiohttp decodes the body before slack_sdk looks at it, and says so in a ValueError.
            raise call.error(WebErrorKind.UNUSABLE, "a body that is not UTF-8") from None
        except TimeoutError:
            problem = f"no answer within {self.timeout:g} s"
            raise call.error(WebErrorKind.TIMEOUT, problem) from None
        except (aiohttp.ClientError, OSError) as error:
            problem = f"Slack unreachable ({type(error).__name__})"
            raise call.error(WebErrorKind.UNREACHABLE, problem) from None
        data, status = answer.get("data"), answer.get("status_code")
        if status == 200 and (isinstance(data, bytes) or _succeeded(data)):
            return answer
        raise call.failed(status if isinstance(status, int) else 0, data, answer.get("headers"))


def as_web_client(client: AsyncWebClient) -> SlackWebClient:
    """`client` as a SlackWebClient: itself if it is one, or if it is a plain AsyncWebClient,
    which then takes the class; any other kind, a copy with its token and settings."""
    if isinstance(client, SlackWebClient):
        return client
    if type(client) is AsyncWebClient:
        # SlackWebClient adds behaviour and no state. Bolt makes a plain client for every
        # request; a copy of it cost as much again (about 20 µs, 3% of a cached command).
        client.__class__ = SlackWebClient
        return cast(SlackWebClient, client)
    return SlackWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        trust_env_in_session=client.trust_env_in_session,
        headers=dict(client.headers),
        team_id=client.default_params.get("team_id"),
        logger=client.logger,
        retry_handlers=list(client.retry_handlers),
    )


def _succeeded(data: object) -> bool:
    return isinstance(data, dict) and data.get("ok") is True


@dataclass(frozen=True, slots=True)
class _Call:
    """One Web API call, as its SlackWebError describes it."""

    client: SlackWebClient
    http_verb: str
    api_url: str
    req_args: dict[str, Any]

    def failed(
        self, status: int, data: object, headers: Mapping[str, str] | None, shape: str = ""
    ) -> SlackWebError:
        """The error for an answer with `status` and body `data` (`shape`: what it was)."""
        headers = headers or {}
        body = data if isinstance(data, dict) else {}
        code = _word(body.get("error"))
        needed = _word(body.get("needed")) if code == "missing_scope" else None
        said = f"Slack says {code}" if code else shape or _shape(data, headers)
        retry_after = _retry_after(headers) if status == 429 else None
        if status == 429:
            wait = f", retry after {retry_after} s" if retry_after is not None else ""
            kind, problem = WebErrorKind.RATE_LIMITED, f"rate-limited by Slack{wait}"
            code = code or "ratelimited"
        elif status != 200:
            kind, problem = WebErrorKind.HTTP_ERROR, f"HTTP {status}, {said}"
        elif code:
            scope = f" (needs {needed})" if needed else ""
            kind, problem = WebErrorKind.REFUSED, f"{said}{scope}"
        else:
            kind, problem = WebErrorKind.UNUSABLE, f"HTTP 200, {said}"
        return self.error(
            kind,
            problem,
            status=status,
            headers=headers,
            body=body if code else {},
            code=code,
            needed=needed,
            retry_after=retry_after,
        )

    def error(
        self,
        kind: WebErrorKind,
        problem: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        code: str | None = None,
        needed: str | None = None,
        retry_after: int | None = None,
    ) -> SlackWebError:
        """This call's SlackWebError."""
        data = {**(body or {}), "ok": False, "error": code or kind.value}
        response = AsyncSlackResponse(
            client=self.client,
            http_verb=self.http_verb,
            api_url=self.api_url,
            req_args=self.req_args,
            data=data,
            # As received, case-insensitive, as slack_sdk keeps them: it reads Retry-After.
            headers=headers if headers is not None else {},  # type: ignore[arg-type]
            status_code=status or 0,
        )
        method = self.api_url.rsplit("/", 1)[-1]
        return SlackWebError(
            kind,
            method,
            problem,
            response,
            code=code,
            needed=needed,
            status=status,
            retry_after=retry_after,
        )


def _word(value: object) -> str | None:
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def _shape(data: object, headers: Mapping[str, str]) -> str:
    """What came instead of a JSON object, in words that repeat nothing of the body."""
    media = str(headers.get("Content-Type", "")).split(";", 1)[0].strip().lower()
    json = media == "application/json"
    if isinstance(data, dict) and data:
        return "a JSON object that is neither ok nor an error"
    if isinstance(data, list):
        return "a JSON array, not an object"
    if isinstance(data, str) and json:
        return "a JSON string, not an object"
    if data is None or data == "":
        return "an empty body"
    if data == {} and json:
        return "an empty JSON object"
    if isinstance(data, (str, dict)):
        # slack_sdk leaves a body it did not parse (not labelled JSON) as {}.
        named = media if _MEDIA_TYPE.fullmatch(media) else "a body"
        return f"{named}, not JSON"
    return "a JSON value that is not an object"


def _retry_after(headers: Mapping[str, str]) -> int | None:
    try:
        seconds = int(str(headers.get("Retry-After")))
    except ValueError:
        return None
    return min(max(seconds, 0), MAX_RETRY_AFTER_S)
