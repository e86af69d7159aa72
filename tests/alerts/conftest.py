"""Alerts fixtures: a live HTTP receiver, destinations pointing at it, Celery run eagerly."""

import pytest

from governance_site.alerts import services
from governance_site.alerts.models import Destination, DestinationKind
from governance_site.celery import app
from tests.regression.conftest import feed, tripwire, wholesale_risk  # noqa: F401  (fixtures used here too)

from .receiver import Receiver

SETUP = "tests/setup"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook(db, receiver):
    """A signed webhook destination for every alert, pointing at the receiver."""
    return services.save_destination(
        destination=Destination(name="pager", kind=DestinationKind.WEBHOOK, url=receiver.url, secret="s3cret"),
        actor=SETUP,
    )


@pytest.fixture
def eager():
    """Celery tasks run in the calling thread (what a worker would do, without a broker)."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
