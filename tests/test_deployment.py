"""The compose file is for users (no Docker engine here): check its shape with PyYAML."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "worker-routing", "beat"} <= set(services)
    for name in ("web", "worker", "worker-routing", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_TASK_ALWAYS_EAGER"] == "false"
    assert "gunicorn" in services["web"]["command"]
    queues = {}
    for name in ("worker", "worker-routing"):
        command = services[name]["command"]
        queues[name] = set(command[command.index("-Q") + 1].split(","))
    # routing alone on its worker (never behind an e-mail); every queue has a worker
    assert queues["worker-routing"] == {"routing"}
    assert queues["worker"] == {"celery", "notifications", "webhooks", "sync"}
    # the bench runs the workers as the compose file does
    from bench.harness import CFS_WEIGHTS, nice_for_cpu_shares
    from bench.run import (
        OTHER_WORKER_CONCURRENCY,
        OTHER_WORKER_CPU_SHARES,
        ROUTING_WORKER_CONCURRENCY,
        WORKER_POOL,
    )

    for name, concurrency in (
        ("worker-routing", ROUTING_WORKER_CONCURRENCY),
        ("worker", OTHER_WORKER_CONCURRENCY),
    ):
        command = services[name]["command"]
        assert command[command.index("--pool") + 1] == WORKER_POOL
        assert command[command.index("--concurrency") + 1] == str(concurrency)
    # e-mails, webhooks and sync yield the CPU to the order path; the bench gives its worker the
    # nice value of about that weight (the kernel's table: nice 0 is 1024, nice 9 is 137)
    assert services["worker"]["cpu_shares"] == OTHER_WORKER_CPU_SHARES < 1024
    for name in ("web", "worker-routing", "postgres", "redis"):
        assert "cpu_shares" not in services[name]
    assert CFS_WEIGHTS[20] == 1024
    assert len(CFS_WEIGHTS) == 40
    assert nice_for_cpu_shares(1024) == 0
    assert nice_for_cpu_shares(OTHER_WORKER_CPU_SHARES) == 9
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in readme
    assert "./scripts/test" in ci
    assert "./scripts/demo" in readme


def test_production_logs_are_one_json_object_per_line():
    import json
    import logging

    from oms.logging import JsonFormatter

    try:
        raise ValueError('bad "quote"')
    except ValueError:
        import sys

        record = logging.LogRecord(
            "oms", logging.ERROR, __file__, 1, 'order %s said "%s"', (7, "hi"), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == 'order 7 said "hi"'
    assert entry["level"] == "ERROR"
    assert "ValueError" in entry["exception"]
    assert "\n" not in line


def test_production_task_log_level_comes_from_the_environment():
    """CELERY_TRACE_LOG_LEVEL: a line per task run at INFO by default; WARNING keeps failures."""
    import os
    import subprocess
    import sys

    code = "from django.conf import settings as s; print(s.LOGGING['loggers']['celery.app.trace']['level'])"

    def level(**extra: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "CELERY_TRACE_LOG_LEVEL"}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY="x" * 50,
            DJANGO_ALLOWED_HOSTS="localhost",
            **extra,
        )
        run = [sys.executable, "-c", code]
        out = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert level() == "INFO"
    assert level(CELERY_TRACE_LOG_LEVEL="WARNING") == "WARNING"
