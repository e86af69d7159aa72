"""Evaluate every enabled tripwire, or one policy (`--domain D --metric M`), as `tripwire/cli`."""

from django.core.management.base import BaseCommand, CommandError

from governance_site.errors import ServiceError
from regression import reasons, services


class Command(BaseCommand):
    help = "Evaluate every enabled regression tripwire, or the one given by --domain and --metric."

    def add_arguments(self, parser):
        parser.add_argument("--domain")
        parser.add_argument("--metric")

    def handle(self, *args, domain, metric, **options):
        if (domain is None) != (metric is None):
            raise CommandError("Give both --domain and --metric, or neither.")
        if domain is None:
            outcomes = services.evaluate_all(actor=reasons.CLI_ACTOR)
        else:
            try:
                state = services.evaluate(domain=domain, metric=metric, actor=reasons.CLI_ACTOR)
            except ServiceError as exc:
                raise CommandError(str(exc)) from exc
            outcomes = {str(state.policy): state.status}
        for policy, status in outcomes.items():
            self.stdout.write(f"{policy}: {status}")
        if not outcomes:
            self.stdout.write("No enabled regression policy.")
        failed = [policy for policy, status in outcomes.items() if status == "error"]
        if failed:
            raise CommandError(f"Evaluation failed for {', '.join(failed)} (see the log).")
