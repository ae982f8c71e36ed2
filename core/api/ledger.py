"""Grouped ledger commits: every prediction of a request committed before its response, many requests per commit.

Requests hand their scored rows to one writer thread (:class:`LedgerWriter`) and wait for the ids.
The writer takes everything waiting, reserves ids and inserts each request's rows in one
transaction, commits once, and only then answers every request of the group: an id a client
receives is always in the ledger. Under load the cost of a commit is shared by the group; alone, a
request waits for its own commit only. If a group's transaction fails, each request is retried in
a transaction of its own, so one bad request cannot fail its neighbours.

Rows a request had refused by the input contract are counted in the same transaction, as one
:class:`~core.db.models.Rejection` per request (a request with only refused rows too), so the
monitoring windows' rejected share counts the API's refusals like a batch file's. Its ``after_id``
is the request's last scored id, else the prediction counter's value at the commit.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import chain

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from core.champion import LoadedModel
from core.db.engine import reserve_ids
from core.db.models import Rejection, utcnow
from core.scoring.ledger import LedgerRows, insert_ledger

FIELDS = LedgerRows.FIELDS
MAX_GROUP_ROWS = 50_000  # rows per commit at most, so one group cannot hold the database for long


@dataclass
class RequestRows(LedgerRows):
    """A request's block of the ledger: its scored rows, and how many of its rows the contract refused."""

    rejected: int = 0


@dataclass
class _Write:
    model: LoadedModel
    rows: LedgerRows
    done: Future = field(default_factory=Future)

    @property
    def rejected(self) -> int:
        return self.rows.rejected if isinstance(self.rows, RequestRows) else 0

    @property
    def count(self) -> int:
        return len(self.rows.inputs)


class LedgerWriter:
    """One thread that writes API predictions to the ledger in grouped transactions."""

    def __init__(self, sessions: sessionmaker[Session], *, source: str = "api"):
        self.engine, self.source = sessions.kw["bind"], source
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def write(self, model: LoadedModel, rows: LedgerRows) -> Future:
        """Queue ``rows`` scored by ``model`` (with the count of refused rows when they are
        :class:`RequestRows`); the future gives the first id once they are committed (None when no
        row was scored)."""
        item = _Write(model, rows)
        if item.count == 0 and item.rejected == 0:
            item.done.set_result(None)
        else:
            self._queue.put(item)
        return item.done

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sift-ledger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is waiting, then stop."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, rows, stopping = [first], first.count, False
            while rows < MAX_GROUP_ROWS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
                rows += item.count
            self._commit(group)
            if stopping:
                return

    def _commit(self, group: list[_Write]) -> None:
        try:
            firsts = self._insert(group)
        except Exception as exc:  # isolate the request that fails, answer the others
            if len(group) == 1:
                group[0].done.set_exception(exc)
            else:
                for item in group:
                    self._commit([item])
            return
        for item, first_id in zip(group, firsts, strict=True):
            item.done.set_result(first_id)

    def _insert(self, group: list[_Write]) -> list[int | None]:
        """Insert the group in one transaction: one id reservation, one insert per model version, and
        one insert of the requests' rejections."""
        models: dict[tuple[str, int], list[_Write]] = {}
        for item in group:
            if item.count:
                models.setdefault((item.model.name, item.model.version), []).append(item)
        firsts: dict[int, int] = {}
        with self.engine.begin() as connection:  # Core, not an ORM session: a third of the cost per commit
            now = utcnow()
            next_id = reserve_ids(connection, "prediction", sum(item.count for item in group))
            for items in models.values():
                start = next_id
                for item in items:  # consecutive ids per model version, so its rows go in one insert
                    firsts[id(item)], next_id = next_id, next_id + item.count
                rows = LedgerRows(*(list(chain.from_iterable(getattr(i.rows, f) for i in items)) for f in FIELDS))
                insert_ledger(connection, start, rows, model=items[0].model, source=self.source, batch_id=None, now=now)
            refused = [
                {
                    "dataset": item.model.name,
                    "model_version": item.model.version,
                    "source": self.source,
                    "rows": item.rejected,
                    "after_id": firsts[id(item)] + item.count - 1 if item.count else next_id - 1,
                    "created_at": now,
                }
                for item in group
                if item.rejected
            ]
            if refused:
                connection.execute(insert(Rejection), refused)
        return [firsts.get(id(item)) for item in group]
