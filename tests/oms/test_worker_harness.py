import pytest

from config.celery_app import app

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker]


def test_a_real_worker_answers_and_survives_sigkill_restart(celery_worker):
    replies = app.control.ping(timeout=2) or []
    assert any(celery_worker.name in next(iter(r)) for r in replies)
    celery_worker.kill()
    assert celery_worker.proc.poll() is not None
    celery_worker.start()
    replies = app.control.ping(timeout=2) or []
    assert any(celery_worker.name in next(iter(r)) for r in replies)
