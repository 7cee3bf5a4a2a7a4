"""The container files, checked without building an image (this machine has no Docker daemon).

The Dockerfile runs `flowpreview serve` in exec form as a non-root user, exposes the bot's
port and bakes in no secret. The .dockerignore lets every COPY source through and keeps .git and
.venv out. compose.yaml names only settings the bot reads, passes every one of them to the
production replicas and gives the replicas of each profile one PostgreSQL. Running the
HEALTHCHECK and the demo profile as processes is in tests/integration/project/test_container.py.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tomllib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import pytest
from aiohttp import web

from bot.cams.actions import Action
from bot.cli import build_parser
from bot.cli.demo import (
    DEMO_BOT_TOKEN,
    DEMO_DEADLINE_S,
    DEMO_MAX_ATTEMPTS,
    DEMO_SIGNING_SECRET,
    DEMO_SPACE,
    DEMO_SPACES,
    STORIES,
)
from bot.preview.settings import rate_variable
from bot.serving import serving
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.settings import DEFAULT_PORT
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.slack.fake_slack import running_fake_slack
from bot.standin.slack.terminal import Terminal
from bot.store.settings import StoreSettings
from tests.shared import container
from tests.shared.container import (
    FLOW,
    Instruction,
    exec_form,
    final_stage,
    healthcheck_command,
    in_profile,
    load_compose,
    named_stages,
    service_environments,
    service_option,
)
from tests.support import ROOT

# Fixtures defined once in tests/shared/container.py, bound here under the names tests take.
dockerfile = container.dockerfile

BOT = ROOT / "bot"
# Names that hold, or lead to, a secret: never given a value in an image or in compose.
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|ACCESS_KEY|API_KEY")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# What a demo service may hold in a secret-looking setting: the demo's own published values.
DEMO_SECRETS = {
    "SLACK_BOT_TOKEN": DEMO_BOT_TOKEN,
    "SLACK_SIGNING_SECRET": DEMO_SIGNING_SECRET,
    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_CREDENTIALS.access_key_id,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_CREDENTIALS.access_key_secret.reveal(),
}
# Settings the bot reads that the production replicas are not handed: compose publishes the
# image's own PORT, DATABASE_URL replaces DATABASE_PATH, and the last is read only to be refused.
NOT_PASSED = {"PORT", "DATABASE_PATH", "SLACK_VERIFICATION_TOKEN"}
# Where the official postgres image keeps its data.
POSTGRES_DATA = "/var/lib/postgresql/data"


# ---------------------------------------------------------------- reading the Dockerfile


def _assignments(args: str) -> dict[str, str]:
    """ENV or ARG `name=value ...` (or `name value`, or a bare ARG name: no value)."""
    if "=" not in args.split(" ", 1)[0]:
        name, _, value = args.partition(" ")
        return {name: value}
    pairs = (part.partition("=") for part in args.split(" ") if part)
    return {name: value for name, _, value in pairs}


def test_the_image_is_built_in_stages_and_the_last_copies_only_the_virtualenv(
    dockerfile: list[Instruction],
) -> None:
    froms = [i for i in dockerfile if i.keyword == "FROM"]
    assert len(froms) >= 2
    builder = froms[0].args.split(" AS ")[-1]
    copies = final_stage(dockerfile, "COPY") + final_stage(dockerfile, "ADD")
    assert copies, "the final stage copies the virtualenv"
    assert all(c.args.startswith(f"--from={builder} ") for c in copies), copies


def test_both_stages_run_one_slim_python_pinned_by_tag(dockerfile: list[Instruction]) -> None:
    args = {
        k: v
        for i in dockerfile
        if i.keyword == "ARG" and i.stage == 0
        for k, v in _assignments(i.args).items()
    }
    stages = named_stages(dockerfile)
    bases = {
        re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], i.args.split(" AS ")[0])
        for i in dockerfile
        if i.keyword == "FROM" and i.args.split(" AS ")[0] not in stages
    }
    (base,) = bases
    match = re.fullmatch(r"python:(?P<minor>3\.\d+)-slim(?:-\w+)?", base)
    assert match is not None, base
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    required = pyproject["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, match["minor"].split("."))) >= tuple(map(int, required.split(".")))


def test_the_image_runs_flowpreview_serve_in_exec_form(dockerfile: list[Instruction]) -> None:
    (entrypoint,) = final_stage(dockerfile, "ENTRYPOINT")
    (command,) = final_stage(dockerfile, "CMD")

    assert exec_form(entrypoint.args) + exec_form(command.args) == ["flowpreview", "serve"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "flowpreview"
    assert pyproject["project"]["scripts"]["flowpreview"] == "bot.cli:main"
    assert build_parser().parse_args(["serve"]).command == "serve"


def test_the_image_exposes_the_bots_port(dockerfile: list[Instruction]) -> None:
    exposed = {port for i in final_stage(dockerfile, "EXPOSE") for port in i.args.split(" ")}
    assert str(DEFAULT_PORT) in exposed
    # And the port compose serves metrics on.
    metrics = {
        env["METRICS_PORT"]
        for env in service_environments(load_compose()).values()
        if env.get("METRICS_PORT") is not None
    }
    assert metrics <= exposed


def test_the_image_runs_as_a_fixed_unprivileged_user(dockerfile: list[Instruction]) -> None:
    users = final_stage(dockerfile, "USER")
    assert users, "a USER in the final stage"
    user, _, group = users[-1].args.partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it without a passwd file.
    assert user.isdigit()
    assert int(user) >= 1000
    assert group == "" or int(group) >= 1000


def test_the_default_database_lives_in_a_volume_the_user_owns(
    dockerfile: list[Instruction],
) -> None:
    env = {k: v for i in final_stage(dockerfile, "ENV") for k, v in _assignments(i.args).items()}
    folder = str(PurePosixPath(env["DATABASE_PATH"]).parent)
    (volume,) = final_stage(dockerfile, "VOLUME")
    user = final_stage(dockerfile, "USER")[-1].args.partition(":")[0]
    runs = " ".join(i.args for i in final_stage(dockerfile, "RUN"))

    assert exec_form(volume.args) == [folder]
    assert f"--owner={user}" in runs
    assert folder in runs
    assert str(StoreSettings.from_env(env).sqlite_path) == env["DATABASE_PATH"]


def test_the_image_bakes_in_no_secret(dockerfile: list[Instruction]) -> None:
    for instruction in dockerfile:
        if instruction.keyword in ("ENV", "ARG"):
            for name, value in _assignments(instruction.args).items():
                assert not (SECRET_NAME.search(name) and value), f"{name} is baked in"
        if instruction.keyword in ("COPY", "ADD"):
            assert ".env" not in instruction.args.split(" "), instruction


def test_python_writes_no_bytecode_and_no_buffered_output(dockerfile: list[Instruction]) -> None:
    env = {k: v for i in final_stage(dockerfile, "ENV") for k, v in _assignments(i.args).items()}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_the_health_check_asks_the_path_the_server_serves(dockerfile: list[Instruction]) -> None:
    command = healthcheck_command(dockerfile)
    assert command[:2] == ["python", "-c"], "no curl in a slim image"
    assert f":{{port}}{HEALTH_PATH}'" in command[2]
    assert f"or '{DEFAULT_PORT}'" in command[2], "the bot's default PORT when unset"


# ---------------------------------------------------------------- .dockerignore


def _glob(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus `**`) as a regular expression."""
    parts = re.split(r"(\*\*/?|\*|\?|\[[^\]]*\])", pattern)
    regex = ""
    for part in parts:
        if part in ("**/", "**"):
            regex += "(?:.*/)?" if part == "**/" else ".*"
        elif part == "*":
            regex += "[^/]*"
        elif part == "?":
            regex += "[^/]"
        elif part.startswith("[") and part.endswith("]"):
            regex += part
        else:
            regex += re.escape(part)
    return re.compile(regex)


def _ignored(path: str, patterns: Sequence[str]) -> bool:
    """Whether Docker leaves `path` out of the build context: the last pattern that matches
    the path or a folder above it decides."""
    ignored = False
    prefixes = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
    for raw in patterns:
        negated = raw.startswith("!")
        regex = _glob(raw.removeprefix("!").strip().strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _copied_files(dockerfile: list[Instruction]) -> Iterator[str]:
    """Every file of this checkout that a COPY from the build context names."""
    for instruction in dockerfile:
        if instruction.keyword != "COPY" or instruction.args.startswith("--from="):
            continue
        *sources, _ = [a for a in instruction.args.split(" ") if not a.startswith("--")]
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"COPY {source}: not in the checkout"
            files = [path] if path.is_file() else path.rglob("*")
            for file in files:
                if file.is_file() and "__pycache__" not in file.parts:
                    yield file.relative_to(ROOT).as_posix()


def test_every_copy_source_reaches_the_build(
    dockerfile: list[Instruction], ignore_patterns: list[str]
) -> None:
    copied = list(_copied_files(dockerfile))
    assert "bot/preview/redis/lua/admit.lua" in copied, "package data too"
    assert [path for path in copied if _ignored(path, ignore_patterns)] == []


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "prod.env",
        "tests/test_cli.py",
        "bot/__pycache__/x.pyc",
    ],
)
def test_the_build_context_leaves_out(path: str, ignore_patterns: list[str]) -> None:
    assert _ignored(path, ignore_patterns)


# ---------------------------------------------------------------- compose.yaml


def _bot_services(compose: Mapping[str, Any]) -> set[str]:
    """The services that run an image built from this checkout, production's or the demo's
    (the others are Redis and PostgreSQL)."""
    return {name for name, service in compose["services"].items() if "build" in service}


def _replicas(compose: Mapping[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    """The services of `profile` that run `flowpreview serve` (the image's own command)."""
    return {
        name: service
        for name, service in in_profile(compose, profile).items()
        if name in _bot_services(compose) and "command" not in service
    }


def _as_compose_reads(value: str | None, shell: Mapping[str, str]) -> str | None:
    """`value` with each `${NAME}` or `${NAME:-default}` resolved against `shell`."""
    if value is None:
        return None
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: shell.get(m[1]) or m[2] or "", value)


# Parsed once a run: three tests ask, and parsing every module of bot/ takes most of a second.
@functools.cache
def _env_reads() -> frozenset[str]:
    """The environment variables the bot reads: every name handed, after the environment, to
    a reader (env_str, env_int, env_flag, a module's own `_path(env, NAME, …)`, …), to os.getenv
    or `env.get`/`env[…]`, written out or as a module constant anywhere in bot/, and the
    per-action rate variables. The stand-ins are left out: they are not the bot."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(BOT.rglob("*.py"))
        if "standin" not in path.relative_to(BOT).parts
    ]
    constants = _string_constants(trees)

    def values(expr: ast.expr) -> set[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        name = expr.id if isinstance(expr, ast.Name) else getattr(expr, "attr", None)
        return constants.get(name, set()) if isinstance(name, str) else set()

    names: set[str] = {rate_variable(action) for action in Action}
    for tree in trees:
        for node in ast.walk(tree):
            for expr in _names_read(node):
                names |= values(expr)
    return frozenset(name for name in names if ENV_NAME.fullmatch(name))


def _string_constants(trees: Sequence[ast.Module]) -> dict[str, set[str]]:
    """Module-level `NAME = "text"` assignments: each name's values, in any module."""
    constants: dict[str, set[str]] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for target in targets:
                    if isinstance(target, ast.Name):
                        constants.setdefault(target.id, set()).add(value.value)
    return constants


def _names_read(node: ast.AST) -> list[ast.expr]:
    """The expressions naming the variable that `node` reads from an environment, if any."""

    def env_like(expr: ast.expr) -> bool:
        return ast.unparse(expr).lower().endswith(("env", "environ"))

    if isinstance(node, ast.Subscript) and env_like(node.value):
        return [node.slice]
    if not isinstance(node, ast.Call):
        return []
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    if node.args and env_like(node.args[0]):
        return node.args[1:2]  # env_str(env, NAME, ...)
    is_env_get = called == "get" and isinstance(func, ast.Attribute) and env_like(func.value)
    if called == "getenv" or is_env_get:
        return node.args[:1]
    return []


def test_every_environment_name_in_compose_is_a_setting_the_bot_reads() -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    reads = _env_reads()
    assert {"SLACK_BOT_TOKEN", "PORT", "CAMS_QPS_LISTFLOW", "REDIS_URL"} <= reads, "the scan"
    compose = load_compose()
    bots = _bot_services(compose)
    named = {
        name
        for service, env in service_environments(compose).items()
        if service in bots
        for name in env
    }
    # Interpolations (${NAME}) would name host variables handed to the bot.
    named |= set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))

    assert sorted(named - reads) == []


def test_compose_runs_two_replicas_sharing_redis() -> None:
    compose = load_compose()
    redis = compose["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert "healthcheck" in redis
    assert "profiles" not in redis
    replicas = _replicas(compose, "prod")
    assert len(replicas) == 2
    for name, replica in replicas.items():
        env = service_environments(compose)[name]
        assert replica["build"] == {"context": ".", "target": "production"}
        assert "command" not in replica, "the image's own: flowpreview serve"
        assert replica["depends_on"]["redis"]["condition"] == "service_healthy"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["CAMS_REPLICAS"] == str(len(replicas))


def test_the_production_image_leaves_out_the_stand_ins_and_the_demo_image_has_them(
    dockerfile: list[Instruction],
) -> None:
    stages = named_stages(dockerfile)
    last = max(i.stage for i in dockerfile)
    assert stages["production"][0] == last, "production is the default target"
    builder = min(stage for stage, _ in stages.values())
    runs = [i.args for i in dockerfile if i.stage == builder and i.keyword == "RUN"]
    pruned = next(run for run in runs if "rm -r " in run)
    # The demo's virtualenv is copied whole before the stand-ins and the demo's commands go from
    # production's.
    assert pruned.index("cp -a /opt/flowpreview /opt/flowpreview-demo") < pruned.index("rm -r ")
    assert "cd /opt/flowpreview/lib/python*/site-packages/bot " in pruned
    removed = pruned.partition("rm -r ")[2].split()
    assert removed == ["standin", "cli/demo.py", "cli/emulator.py"]
    for path in removed:
        assert (ROOT / "bot" / path).exists(), path
    copies = {
        name: [i.args for i in dockerfile if i.stage == stage and i.keyword == "COPY"]
        for name, (stage, _) in stages.items()
        if name in ("production", "demo")
    }
    assert copies == {
        "production": ["--from=builder /opt/flowpreview /opt/flowpreview"],
        "demo": ["--from=builder /opt/flowpreview-demo /opt/flowpreview"],
    }


def test_the_demo_profile_builds_the_demo_target_and_production_never_does() -> None:
    compose = load_compose()
    built = {name: s for name, s in compose["services"].items() if "build" in s}
    targets = {name: (s["profiles"], s["build"]["target"]) for name, s in built.items()}
    assert {name for name, (_, target) in targets.items() if target == "demo"} == {
        name for name, (profiles, _) in targets.items() if profiles == ["demo"]
    }
    assert {target for profiles, target in targets.values() if profiles == ["prod"]} == {
        "production"
    }
    assert {s["image"] for s in built.values() if s["build"]["target"] == "demo"} == {
        "flowpreview-demo"
    }


def test_every_setting_the_bot_reads_reaches_the_production_replicas() -> None:
    compose = load_compose()
    reads = _env_reads()
    replicas = _replicas(compose, "prod")
    assert len(replicas) == 2
    assert reads >= NOT_PASSED, "a setting left out on purpose is still one the bot reads"
    for name in replicas:
        env = service_environments(compose)[name]
        assert sorted(reads - set(env) - NOT_PASSED) == [], f"{name} is not handed these"
        assert NOT_PASSED & set(env) == set()


@pytest.mark.parametrize("profile", ["prod", "demo"])
def test_the_replicas_of_a_profile_share_one_postgresql(profile: str) -> None:
    compose = load_compose()
    services = compose["services"]
    replicas = _replicas(compose, profile)
    # As compose reads them with nothing set in the shell.
    urls = {
        _as_compose_reads(service_environments(compose)[name].get("DATABASE_URL"), {})
        for name in replicas
    }
    assert len(replicas) == 2
    (url,) = urls
    assert url is not None, "each replica would keep a SQLite file of its own"
    settings = StoreSettings.from_env({"DATABASE_URL": url})
    assert not settings.is_sqlite
    host = settings.url.host
    assert host in in_profile(compose, profile), f"{host} is not a service of the {profile} profile"
    postgres = services[host]
    assert re.fullmatch(r"postgres:\d+(?:\.\d+)?(?:-alpine)?", postgres["image"])
    assert "ports" not in postgres, "reachable from the compose network only"
    check = postgres["healthcheck"]["test"]
    assert check[:2] == ["CMD", "pg_isready"]
    assert f"--dbname={settings.url.database}" in check
    assert f"--username={settings.url.username}" in check
    postgres_env = service_environments(compose)[host]
    assert postgres_env["POSTGRES_DB"] == settings.url.database
    assert postgres_env["POSTGRES_USER"] == settings.url.username
    for name, replica in replicas.items():
        assert replica["depends_on"][host]["condition"] == "service_healthy", name


def test_productions_postgresql_keeps_its_data_in_a_named_volume() -> None:
    compose = load_compose()
    (url,) = {
        _as_compose_reads(service_environments(compose)[name]["DATABASE_URL"], {})
        for name in _replicas(compose, "prod")
    }
    host = StoreSettings.from_env({"DATABASE_URL": url or ""}).url.host
    postgres = compose["services"][host]
    volumes = {
        target: source for source, _, target in (v.partition(":") for v in postgres["volumes"])
    }
    assert volumes[POSTGRES_DATA] in compose["volumes"]
    assert postgres["restart"] == "unless-stopped"


def test_a_database_url_set_in_the_shell_replaces_productions_postgresql() -> None:
    compose = load_compose()
    mine = "postgresql://bot@rds.internal/flowpreview"
    for name in _replicas(compose, "prod"):
        value = service_environments(compose)[name]["DATABASE_URL"]
        assert _as_compose_reads(value, {"DATABASE_URL": mine}) == mine


def test_the_image_installs_the_extras_replicas_need_and_sqlite_needs_none(
    dockerfile: list[Instruction],
) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    installs = [i.args for i in dockerfile if i.keyword == "RUN" and " install " in i.args]
    named = {
        extra.strip()
        for args in installs
        for group in re.findall(r"\.\[([a-z,\s]+)\]", args)
        for extra in group.split(",")
    }

    assert {"postgres", "redis"} <= named
    assert named <= set(extras)
    assert not any(requirement.startswith("asyncpg") for requirement in project["dependencies"])
    assert any(requirement.startswith("asyncpg") for requirement in extras["postgres"])
    # The tests and the benchmarks run on PostgreSQL and Redis too.
    for group in ("dev", "bench"):
        assert set(extras["postgres"]) | set(extras["redis"]) <= set(extras[group]), group


def test_production_settings_come_from_the_shell_and_none_is_written_down() -> None:
    compose = load_compose()
    for name in _replicas(compose, "prod"):
        env = service_environments(compose)[name]
        assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_ID"} <= set(
            env
        )
        written = {k for k, v in env.items() if v is not None and SECRET_NAME.search(k)}
        assert written == set(), f"{name}: {written}"


def test_the_demo_needs_nothing_from_the_shell_and_starts_nothing_that_would() -> None:
    compose = load_compose()
    demo = in_profile(compose, "demo")
    assert {"emulator", "demo"} <= set(demo)
    for name, service in compose["services"].items():
        if name != "redis":
            assert service.get("profiles"), f"{name} would start with the demo"
    for name, env in service_environments(compose).items():
        if name not in demo:
            continue
        assert [k for k, v in env.items() if v is None] == [], f"{name} reads the shell"
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert value == DEMO_SECRETS[key], f"{name}: {key} is not the demo's own"


def test_the_demo_replicas_are_set_up_as_the_terminal_demo_is() -> None:
    compose = load_compose()
    demo = in_profile(compose, "demo")
    emulator = demo["emulator"]["command"]
    replicas = {name: env for name, env in service_environments(compose).items() if "PORT" in env}
    terminal = demo["demo"]["command"]
    (slack_port,) = service_option(terminal, "slack-port")
    (cams_port,) = service_option(emulator, "port")

    assert emulator[0] == "emulator"
    assert terminal[0] == "demo"
    assert sorted(service_option(emulator, "fault")) == sorted(
        f"{story.fault}@flow:{story.flow_id}" for story in STORIES
    )
    assert sorted(service_option(terminal, "bot")) == sorted(
        f"http://127.0.0.1:{env['PORT']}" for env in replicas.values()
    )
    assert len(replicas) == 2
    for env in replicas.values():
        assert env["CAMS_ENDPOINT"] == f"http://127.0.0.1:{cams_port}"
        assert env["SLACK_API_URL"] == f"http://127.0.0.1:{slack_port}/api/"
        assert env["SLACK_RESPONSE_URL_HOSTS"] == f"127.0.0.1:{slack_port}"
        assert env["CAMS_CUST_SPACE_ID"] == DEMO_SPACE
        assert env["CAMS_SPACES"] == DEMO_SPACES
        assert env["CAMS_MAX_ATTEMPTS"] == str(DEMO_MAX_ATTEMPTS)
        assert float(env["CAMS_DEADLINE_S"] or 0) == DEMO_DEADLINE_S
    # Loopback between them: one network namespace, the emulator's.
    for name, service in demo.items():
        if name in _bot_services(compose) and name != "emulator":
            assert service["network_mode"] == "service:emulator"
    assert demo["demo"]["stdin_open"] is True
    assert demo["demo"]["tty"] is True


async def test_the_terminal_asks_each_replica_in_turn() -> None:
    asked: list[str] = []

    def bot(name: str) -> web.Application:
        async def events(request: web.Request) -> web.Response:
            asked.append(name)
            return web.Response(text="")

        app = web.Application()
        app.router.add_post(EVENTS_PATH, events)
        return app

    async def typed() -> AsyncIterator[str]:
        for _ in range(3):
            yield f"/flowpreview {FLOW}"

    async with (
        running_fake_slack() as slack,
        serving(bot("one")) as one,
        serving(bot("two")) as two,
    ):
        terminal = Terminal(bot_url=[one, two], signing_secret="s", fake=slack, out=io.StringIO())
        await terminal.run(typed())

    assert asked == ["one", "two", "one"]
