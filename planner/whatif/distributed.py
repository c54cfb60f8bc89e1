"""Run what-if tasks on Dask distributed: a local cluster by default, any cluster by address, or in-process.

:func:`run_tasks` calls ``fn(shared, item)`` for every item. The ``shared`` object
(typically the scenario and the plan) is sent to the workers once
(``client.scatter(..., broadcast=True)``); each task carries only its small item
(a failure case, a sweep point). A task that raises is retried once
(``retries=1``); a worker that dies mid-task has its task rescheduled by the
scheduler; a task that still fails comes back as a :class:`TaskResult` with its
``error`` set -- never lost. Results come back in the order of ``items``, so a
run on a cluster and a run in-process (``serial=True``) give the same table when
``fn`` is deterministic.

By default a :class:`~dask.distributed.LocalCluster` is started on this machine
(``n_workers`` worker processes with one thread each, listening on 127.0.0.1 only,
no dashboard) and closed afterwards; ``scheduler="tcp://HOST:PORT"`` connects to a
cluster started elsewhere (``dask scheduler`` / ``dask worker``), whose workers
need ``planner`` installed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from planner.scheduler import check_scheduler

__all__ = ["ProgressCallback", "TaskResult", "check_scheduler", "local_cluster", "run_tasks"]

log = logging.getLogger(__name__)

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

ProgressCallback = Callable[[int, int, str], None]
"""Called after each task as ``on_progress(done, total, key)``."""

CONNECT_TIMEOUT_S = 10.0
"""How long the Dask client may take to join a scheduler that accepted the connection, s."""



@dataclass(frozen=True)
class TaskResult(Generic[R]):
    """The outcome of one task: its value, or why it failed (after its retries)."""

    key: str
    value: R | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the task returned a value."""
        return not self.error


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextmanager
def local_cluster(n_workers: int = 2) -> Iterator[Any]:
    """A loopback-only :class:`~dask.distributed.LocalCluster` of worker processes, closed on exit.

    One thread per worker (CP-SAT inside a task runs one search worker), host
    127.0.0.1, dashboard off, the workers' own log messages silenced (a failed
    task comes back as a :class:`TaskResult` with its error).
    """
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    try:
        yield cluster
    finally:
        cluster.close()


@contextmanager
def _client(scheduler: Any, n_workers: int) -> Iterator[Any]:
    """A client of ``scheduler`` (an address or a cluster object), or of a new local cluster."""
    from dask.distributed import Client

    if scheduler is not None:
        if isinstance(scheduler, str):
            check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            msg = f"cannot connect to the Dask scheduler at {scheduler}: {_describe(exc)}"
            raise ConnectionError(msg) from None
        except Exception as exc:  # something else answers there (garbled handshake)
            msg = (f"cannot connect to the Dask scheduler at {scheduler}: what answers there does not speak "
                   f"Dask's protocol ({_describe(exc)})")
            raise ConnectionError(msg) from None
        try:
            yield client
        finally:
            client.close()
        return
    with local_cluster(n_workers) as cluster:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()


def run_tasks(fn: Callable[[S, T], R], shared: S, items: Sequence[T], *, keys: Sequence[str] | None = None,
              scheduler: Any = None, serial: bool = False, n_workers: int = 2, retries: int = 1,
              on_progress: ProgressCallback | None = None) -> list[TaskResult[R]]:
    """Run ``fn(shared, item)`` for every item, on Dask or in-process; one result per item, in order.

    Parameters
    ----------
    fn
        A module-level function (workers import it by name).
    shared
        Sent to the workers once and passed to every task; tasks must not change it.
    items
        One per task; small (a case, a sweep point).
    keys
        A readable name per item (shown in progress and in failures); ``"0"``, ``"1"``... by default.
    scheduler
        ``None`` for a new local cluster, a ``tcp://HOST:PORT`` address, or a running
        ``Cluster``/``Client``-acceptable object.
    serial
        Run in this process, one task after another (same retries, same results).
    n_workers
        Worker processes of the local cluster.
    retries
        Extra attempts for a task that raises.
    on_progress
        Called as ``on_progress(done, total, key)`` after each task.

    Returns
    -------
    list of TaskResult
        In the order of ``items``.

    Examples
    --------
    >>> [r.value for r in run_tasks(pow, 2, [3, 4], serial=True)]
    [8, 16]
    """
    names = [str(k) for k in keys] if keys is not None else [str(i) for i in range(len(items))]
    if len(names) != len(items):
        msg = f"{len(names)} keys for {len(items)} items; give one key per item"
        raise ValueError(msg)
    if serial:
        return _run_serial(fn, shared, items, names, retries=retries, on_progress=on_progress)
    return _run_dask(fn, shared, items, names, scheduler=scheduler, n_workers=n_workers, retries=retries,
                     on_progress=on_progress)


def _run_serial(fn: Callable[[S, T], R], shared: S, items: Sequence[T], names: list[str], *, retries: int,
                on_progress: ProgressCallback | None) -> list[TaskResult[R]]:
    out: list[TaskResult[R]] = []
    for i, (name, item) in enumerate(zip(names, items, strict=True)):
        result: TaskResult[R] | None = None
        for attempt in range(retries + 1):
            try:
                result = TaskResult(name, fn(shared, item))
                break
            except Exception as exc:  # a failed task is reported, not raised
                log.info("task %s failed (attempt %d of %d): %s", name, attempt + 1, retries + 1, exc)
                result = TaskResult(name, None, _describe(exc))
        assert result is not None
        out.append(result)
        if on_progress is not None:
            on_progress(i + 1, len(items), name)
    return out


def _run_dask(fn: Callable[[S, T], R], shared: S, items: Sequence[T], names: list[str], *, scheduler: Any,
              n_workers: int, retries: int, on_progress: ProgressCallback | None) -> list[TaskResult[R]]:
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:8]
    results: dict[int, TaskResult[R]] = {}
    with _client(scheduler, n_workers) as client:
        [shared_f] = client.scatter([shared], broadcast=True, hash=False)
        futures = {client.submit(fn, shared_f, item, key=f"whatif-{token}-{i}-{name}", retries=retries,
                                 pure=False): i for i, (name, item) in enumerate(zip(names, items, strict=True))}
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            try:
                results[i] = TaskResult(names[i], fut.result())
            except Exception as exc:  # a failed task (or a lost worker) is reported
                log.info("task %s failed after %d attempts: %s", names[i], retries + 1, exc)
                results[i] = TaskResult(names[i], None, _describe(exc))
            fut.release()
            if on_progress is not None:
                on_progress(done, len(items), names[i])
        del shared_f
    return [results[i] for i in range(len(items))]
