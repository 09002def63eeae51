"""Housekeeping across the services: every service's purges, run to completion in bounded
batches (kit.purge) by `egate maintenance`, and every ``maintenance_interval_seconds`` by a
thread inside `egate serve` (each replica may run it: deleting what another already
deleted deletes nothing)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import forms_hub.maintenance
import identity.maintenance
from forms_hub.config import FormsConfig
from kit.db import DatabaseBusy
from kit.purge import Purge, purge_all
from kit.runtime import Runtime
from kit.settings import Settings
from kit.thread_names import name_os_thread

log = logging.getLogger("egate.maintenance")


def all_purges(settings: Settings) -> tuple[Purge, ...]:
    return identity.maintenance.PURGES + forms_hub.maintenance.purges(FormsConfig.from_settings(settings))


def run_maintenance(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Every purge once, to completion; rows deleted per table."""
    return purge_all(
        runtime.sessions,
        all_purges(runtime.settings),
        now or runtime.clock(),
        runtime.settings.maintenance_batch_size,
    )


class BackgroundMaintenance:
    """A daemon thread running :func:`run_maintenance` every ``interval`` seconds."""

    def __init__(self, run: Callable[[], dict[str, int]], interval: float) -> None:
        self.run, self.interval = run, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        name_os_thread()
        while not self._stop.wait(self.interval):
            try:
                deleted = self.run()
            except (SQLAlchemyError, DatabaseBusy) as error:
                log.warning("maintenance could not reach the database: %s", type(error).__name__)
                continue
            except Exception:  # the schedule must outlive any one failure
                log.exception("maintenance failed")
                continue
            if any(deleted.values()):
                log.info("maintenance removed %s", {k: v for k, v in deleted.items() if v})


def scheduled(runtime: Runtime) -> BackgroundMaintenance | None:
    """The schedule for `egate serve`, unless switched off (interval 0) or the sessions are
    bound to one connection (tests), which another thread may not share."""
    interval = runtime.settings.maintenance_interval_seconds
    sessions: sessionmaker[Session] = runtime.sessions
    if interval <= 0 or isinstance(sessions.kw.get("bind"), Connection):
        return None
    return BackgroundMaintenance(lambda: run_maintenance(runtime), interval)
