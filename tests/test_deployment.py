"""The production shape: Docker image, compose stack, environment and production settings.

No Docker engine runs in CI, so the image and the stack are checked by reading their files; what
they run (production settings, the entrypoint, gunicorn with the image's command, the container
healthcheck) is started here as plain processes.
"""

import ast
import importlib.util
import json
import os
import re
import secrets
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DIR = ROOT / "funnel" / "settings"
APP_SERVICES = ("web", "worker", "beat")
GOOD_SECRET_KEY = secrets.token_urlsafe(50)
CORE_VARIABLES = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "REPORT_TIME_ZONE", "SECURE_SSL_REDIRECT"}


# Reading the files


def settings_environment_variables() -> set[str]:
    """Names of the environment variables that funnel/settings reads, found in its source."""
    trees = [ast.parse(path.read_text()) for path in sorted(SETTINGS_DIR.glob("*.py"))]

    def is_os(node: ast.expr, attr: str) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == attr and ast.unparse(node.value) == "os"

    def reads_environment(node: ast.AST) -> bool:
        return any(is_os(n, "environ") or is_os(n, "getenv") for n in ast.walk(node) if isinstance(n, ast.expr))

    # Helpers such as env_bool(name) and required(name) read the variable named by their argument.
    readers = {
        node.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and reads_environment(node)
    }
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and is_os(node.value, "environ"):
                key = node.slice
            elif isinstance(node, ast.Call) and node.args:
                func = node.func
                via_environ = isinstance(func, ast.Attribute) and (
                    is_os(func.value, "environ") or is_os(func, "getenv")
                )
                via_reader = (isinstance(func, ast.Name) and func.id in readers) or (
                    isinstance(func, ast.Attribute) and func.attr in readers
                )
                if not (via_environ or via_reader):
                    continue
                key = node.args[0]
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def env_example() -> list[tuple[str, str, bool]]:
    """(name, value, commented) for every variable in .env.example; commented: its block has a comment."""
    variables = []
    commented = False
    for line in (ROOT / ".env.example").read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            commented = False
        elif stripped.startswith("#"):
            commented = True
        else:
            name, sep, value = stripped.partition("=")
            assert sep, f".env.example: {line!r} is not NAME=value"
            variables.append((name.strip(), value, commented))
    return variables


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return dict(services[name])


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def healthcheck_text(svc: dict[str, Any]) -> str:
    assert "healthcheck" in svc, "no healthcheck"
    test = svc["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def volume_mounted_at(svc: dict[str, Any], target: str) -> str:
    """The named volume the service mounts at ``target``."""
    for volume in svc.get("volumes", []):
        source, _, path = (volume if isinstance(volume, str) else f"{volume['source']}:{volume['target']}").partition(
            ":"
        )
        if path.split(":")[0] == target:
            return source
    raise AssertionError(f"nothing is mounted at {target}")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for every instruction of the Dockerfile, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_argv(keyword: str) -> list[str]:
    values = [arguments for instruction, arguments in dockerfile() if instruction == keyword]
    assert values, f"the Dockerfile has no {keyword}"
    argv = json.loads(values[-1])
    assert isinstance(argv, list), f"{keyword} must use the exec (JSON) form so signals reach the process"
    return [str(part) for part in argv]


# Running production processes


def production_env(**overrides: str) -> dict[str, str]:
    """This process's environment without anything the settings read, under production settings."""
    read = settings_environment_variables()
    env = {name: value for name, value in os.environ.items() if name not in read and not name.startswith("CELERY_")}
    env["DJANGO_SETTINGS_MODULE"] = "funnel.settings.production"
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(url: str, host: str) -> tuple[int, dict[str, str]]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers={"Host": host}), timeout=5) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


# The compose stack


def test_compose_runs_the_five_services_of_the_production_shape():
    assert set(compose()["services"]) >= {"postgres", "redis", "web", "worker", "beat"}


def test_postgres_keeps_its_data_in_a_volume_and_reports_health():
    postgres = service("postgres")
    assert str(postgres["image"]).startswith("postgres:15")
    assert volume_mounted_at(postgres, "/var/lib/postgresql/data") in compose()["volumes"]
    assert "pg_isready" in healthcheck_text(postgres)
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(postgres["environment"])


def test_redis_appends_to_a_volume_and_reports_health():
    redis = service("redis")
    assert str(redis["image"]).startswith("redis:7")
    command = as_argv(redis["command"])
    assert command[command.index("--appendonly") + 1] == "yes"
    assert volume_mounted_at(redis, "/data") in compose()["volumes"]
    assert "redis-cli" in healthcheck_text(redis)
    assert "ping" in healthcheck_text(redis)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_image_read_env_and_wait_for_healthy_backends(name):
    app = service(name)
    build = app["build"]
    assert (build if isinstance(build, str) else build.get("context", ".")) == "."
    env_files = app["env_file"] if isinstance(app["env_file"], list) else [app["env_file"]]
    assert ".env" in [item if isinstance(item, str) else item["path"] for item in env_files]
    for backend in ("postgres", "redis"):
        assert app["depends_on"][backend]["condition"] == "service_healthy", f"{name} must wait for {backend}"


def test_web_serves_with_gunicorn_and_is_checked_on_healthz():
    web = service("web")
    command = as_argv(web["command"])
    assert command[0] == "gunicorn"
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert "/healthz" in healthcheck_text(web)
    assert any(str(port).endswith(":8000") for port in web["ports"])


def test_only_web_applies_migrations_on_start():
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert re.search(r'if \[ "\$\{MIGRATE_ON_START:-0\}" = "1" \]', entrypoint)
    assert "manage.py migrate --no-input" in entrypoint
    assert str(service("web")["environment"]["MIGRATE_ON_START"]) == "1"
    for name in ("worker", "beat"):
        assert "MIGRATE_ON_START" not in service(name).get("environment", {})
        assert service(name)["depends_on"]["web"]["condition"] == "service_healthy", "migrations come first"


def test_worker_and_beat_run_celery_for_the_funnel_app():
    assert as_argv(service("worker")["command"])[:4] == ["celery", "-A", "funnel", "worker"]
    assert as_argv(service("beat")["command"])[:4] == ["celery", "-A", "funnel", "beat"]


def test_every_variable_compose_interpolates_is_documented_in_env_example():
    # $${NAME} is escaped: the container's shell expands it, not compose.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    assert "POSTGRES_PASSWORD" in used
    assert used <= {name for name, _, _ in env_example()}


# The image


def test_the_image_is_python_311_slim_with_pinned_requirements():
    instructions = dockerfile()
    assert [arguments for instruction, arguments in instructions if instruction == "FROM"] == ["python:3.11-slim"]
    runs = [arguments for instruction, arguments in instructions if instruction == "RUN"]
    assert any("pip install -r requirements.txt" in run for run in runs)


def test_the_image_runs_production_settings_as_a_non_root_user():
    instructions = dockerfile()
    env = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "DJANGO_SETTINGS_MODULE=funnel.settings.production" in env.split()

    users = [(index, arguments) for index, (instruction, arguments) in enumerate(instructions) if instruction == "USER"]
    assert users, "the image must switch to a non-root user"
    last_user_index, last_user = users[-1]
    user = last_user.split(":")[0]
    assert user not in {"root", "0"}
    assert any(
        instruction == "RUN" and re.search(rf"useradd\b.*\b{re.escape(user)}\b", arguments)
        for instruction, arguments in instructions
    ), f"the image never creates the user {user!r}"
    later = [instruction for instruction, _ in instructions[last_user_index + 1 :]]
    assert "RUN" not in later, "nothing should run as root after switching users"


def test_the_image_collects_static_files_at_build_without_a_real_secret():
    runs = [arguments for instruction, arguments in dockerfile() if instruction == "RUN"]
    collect = [run for run in runs if "collectstatic" in run]
    assert collect, "static files must be collected into the image"
    assert "SECRET_KEY=" in collect[0]
    assert "--no-input" in collect[0]


def test_the_image_starts_gunicorn_through_the_entrypoint():
    assert dockerfile_argv("ENTRYPOINT") == ["/app/docker/entrypoint.sh"]
    command = dockerfile_argv("CMD")
    assert command[:2] == ["gunicorn", "funnel.wsgi"]
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert os.access(ROOT / "docker" / "entrypoint.sh", os.X_OK)


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "db.sqlite3"} <= ignored


# The environment


def test_env_example_names_every_variable_the_settings_read():
    read = settings_environment_variables()
    assert read >= CORE_VARIABLES, "the scan of the settings' source found too little"
    documented = {name for name, _, _ in env_example()}
    assert read - documented == set(), "add these to .env.example, with a comment"


def test_every_variable_in_env_example_is_explained_and_secrets_are_left_blank():
    variables = env_example()
    assert [name for name, _, commented in variables if not commented] == []
    assert len({name for name, _, _ in variables}) == len(variables), "a variable is listed twice"
    assert dict((name, value) for name, value, _ in variables)["SECRET_KEY"] == ""


# The production settings


def test_production_settings_pass_the_deployment_checklist():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_env(SECRET_KEY=GOOD_SECRET_KEY, ALLOWED_HOSTS="funnel.example.com"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env=production_env(ALLOWED_HOSTS="funnel.example.com"))
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in production." in result.stderr


@pytest.mark.parametrize("allowed_hosts", [" ", ",", " , "])
def test_production_refuses_to_start_without_allowed_hosts(allowed_hosts):
    result = manage("check", env=production_env(SECRET_KEY=GOOD_SECRET_KEY, ALLOWED_HOSTS=allowed_hosts))
    assert result.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS must be set in production." in result.stderr


def test_the_entrypoint_migrates_only_when_asked(tmp_path):
    database = tmp_path / "entrypoint.sqlite3"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = production_env(
        SECRET_KEY=GOOD_SECRET_KEY, ALLOWED_HOSTS="localhost", DATABASE_URL=f"sqlite:///{database}", PATH=path
    )

    def entrypoint(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "docker/entrypoint.sh", "echo", "command ran"],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    plain = entrypoint()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "command ran"
    assert not database.exists()

    migrating = entrypoint(MIGRATE_ON_START="1")
    assert migrating.returncode == 0, migrating.stderr
    assert migrating.stdout.rstrip().endswith("command ran")
    with sqlite3.connect(database) as db:
        applied = {app for (app,) in db.execute("SELECT DISTINCT app FROM django_migrations")}
    assert {"leads", "opportunities", "access"} <= applied


def test_the_healthcheck_sends_a_host_that_allowed_hosts_admits():
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "docker" / "healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)

    assert healthcheck.host_header("funnel.example.com, www.funnel.example.com") == "funnel.example.com"
    assert healthcheck.host_header(".funnel.example.com") == "funnel.example.com"
    assert healthcheck.host_header("*") == "localhost"
    assert healthcheck.host_header("") == "localhost"


@pytest.fixture
def gunicorn_with_the_image_command(tmp_path) -> Iterator[str]:
    """The image's CMD, bound to a free local port, under production settings with HTTPS redirects on."""
    port = free_port()
    command = dockerfile_argv("CMD")
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = production_env(
        SECRET_KEY=GOOD_SECRET_KEY,
        ALLOWED_HOSTS="funnel.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        WEB_CONCURRENCY="1",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *command], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"gunicorn did not listen:\n{log.read_text()}"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_container_healthcheck_passes_against_the_image_command(gunicorn_with_the_image_command):
    base = gunicorn_with_the_image_command
    script = next(part for part in service("web")["healthcheck"]["test"] if part.endswith("healthcheck.py"))
    script_path = ROOT / Path(script).relative_to("/app")

    def healthcheck(allowed_hosts: str) -> int:
        return subprocess.run(
            [sys.executable, str(script_path), f"{base}/healthz"],
            env={**os.environ, "ALLOWED_HOSTS": allowed_hosts},
            capture_output=True,
            timeout=30,
        ).returncode

    assert healthcheck(".funnel.example.com,other.example") == 0
    assert healthcheck("elsewhere.example") == 1, "a host Django refuses must fail the healthcheck"

    # Plain HTTP is redirected to HTTPS, except the probes, which the container checks over HTTP.
    status, headers = http_get(f"{base}/", host="funnel.example.com")
    assert status == 301
    assert headers["Location"] == "https://funnel.example.com/"
    assert http_get(f"{base}/healthz", host="funnel.example.com")[0] == 200
