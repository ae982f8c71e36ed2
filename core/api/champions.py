"""The champions the service scores with, swapped while it runs.

A request reads the loaded champion of its dataset from a dict: no database or MLflow lookup on
the scoring path. A watcher thread asks :func:`core.champion.champion_version` every
:data:`WATCH_EVERY` seconds (a promotion or rollback made through Sift, in any process, is seen
at once through its alias history; an alias moved in MLflow directly within a second), loads a
new champion beside the old one and only then swaps it in, so requests never wait for a load and
each response names the version that actually scored it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from core.champion import LoadedModel, champion_version, load_version
from core.config import Settings
from core.datasets.versions import get_version
from core.errors import SiftError

WATCH_EVERY = 0.25  # seconds between two looks at the champions in use
log = logging.getLogger(__name__)


class Champions:
    """The loaded champion of each dataset scored so far, kept current by a watcher thread."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings, self.sessions = settings, sessions
        self._current: dict[str, LoadedModel] = {}
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, dataset: str) -> LoadedModel | None:
        """The champion in use for ``dataset``, or None before its first request (then :meth:`load`)."""
        return self._current.get(dataset)

    def load(self, dataset: str) -> LoadedModel:
        """Look the champion up and load it (a dataset's first request; raises ModelNotFound)."""
        with self._load_lock:
            if dataset not in self._current:
                with self.sessions() as session:
                    get_version(session=session, name=dataset)  # an unknown dataset is named as such
                    version = champion_version(self.settings, dataset, session=session)
                self._current[dataset] = load_version(self.settings, dataset, version)
            return self._current[dataset]

    def loaded(self) -> dict[str, LoadedModel]:
        return dict(self._current)

    def refresh(self) -> None:
        """Swap in the new champion of every dataset in use whose alias moved."""
        for dataset, model in list(self._current.items()):
            try:
                with self.sessions() as session:
                    version = champion_version(self.settings, dataset, session=session)
                if version != model.version:
                    self._current[dataset] = load_version(self.settings, dataset, version)
                    log.warning("%s: now scoring with version %s (was %s)", dataset, version, model.version)
            except SiftError as exc:  # the champion went away: keep scoring with the one loaded, say so
                log.warning("%s: keeping version %s: %s", dataset, model.version, exc)
            except Exception:  # the watcher must survive a database or MLflow hiccup
                log.exception("%s: could not look the champion up; trying again", dataset)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="sift-champions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY):
            self.refresh()
