"""The application `fastapi run` and `fastapi dev` serve, configured from the environment.

Kept apart from `app.main` so that importing `create_app` (as the tests do) reads nothing.
"""

import multiprocessing
import os
import signal

from app.core.config import get_settings
from app.main import create_app

try:
    settings = get_settings()
except SystemExit:
    # Under `fastapi dev` (the reloader) or `--workers`, a supervisor process would wait, or
    # restart this one forever, with nothing listening: it stops too, and fails.
    if (supervisor := multiprocessing.parent_process()) is not None and supervisor.pid:
        os.kill(supervisor.pid, signal.SIGKILL)
    raise

app = create_app(settings)
