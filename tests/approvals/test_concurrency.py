"""Real threads on PostgreSQL: an approved request applied by several operators at once applies once."""

from functools import partial

import pytest

from approvals import reasons, services
from approvals.models import ChangeRequest
from governance_site.audit.models import AuditEvent
from tests.concurrency import outcome, race
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_four_operators_apply_one_approved_request_at_once__applied_once(approvals_on, operator, second_operator,
                                                                        killed):  # fmt: skip
    change = services.request_change(kind="kill_switch.release", reason="fixed", actor=operator)
    services.approve(change_id=change.pk, actor=second_operator)

    outcomes = race(lambda i: outcome("applied", services.apply, change_id=change.pk, actor=operator), threads=4)
    assert sorted(outcomes) == sorted(["applied", *[reasons.NOT_PENDING] * 3])
    assert ChangeRequest.objects.get().state == "applied"
    assert AuditEvent.objects.filter(action="kill_switch.release").count() == 1
    assert AuditEvent.objects.filter(action="change.apply").count() == 1


def test_one_operator_approves_twice_at_once__one_approval(approvals_on, operator, second_operator, killed):
    change = services.request_change(kind="kill_switch.release", reason="fixed", actor=operator)

    approve = partial(outcome, "approved", services.approve, change_id=change.pk, actor=second_operator)
    outcomes = race(lambda i: approve(), threads=3)
    assert sorted(outcomes) == sorted(["approved", *[reasons.ALREADY_APPROVED] * 2])
    assert change.approvals.count() == 1
