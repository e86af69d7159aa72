"""Issues an API token for a user and prints it once (only its digest is stored)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from governance_site import tokens


class Command(BaseCommand):
    help = "Issue an API token for USERNAME, print it once. It expires after --days (default API_TOKEN_TTL_DAYS)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=None, help="Days until it expires (at least 1).")

    def handle(self, *args, username, days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            instance, token = tokens.issue(user=user, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"API token for {username} (expires {instance.expiry:%Y-%m-%d %H:%M %Z}): {token}")
