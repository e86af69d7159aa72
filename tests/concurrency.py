"""Running real threads at once against the database, for the PostgreSQL concurrency tests."""

import threading

from django.db import connection

from governance_site.errors import Conflict


def race(work, threads: int) -> list:
    """Run `work(i)` in `threads` threads released at once; each closes its own connection.

    Returns the results in thread order; re-raises (as an assertion) any thread's exception.
    """
    barrier = threading.Barrier(threads, timeout=30)
    results, errors = [None] * threads, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    return results


def outcome(done: str, service, **kwargs) -> str:
    """`done` when `service(**kwargs)` succeeds, else the reason of the Conflict it raises: one
    thread's tally in a race."""
    try:
        service(**kwargs)
    except Conflict as exc:
        return exc.reason
    return done
