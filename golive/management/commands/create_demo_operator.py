"""Creates a demo operator account if none exists, prints its login and a fresh API token (used by
`make run`). The token lives one day (DEMO_TOKEN_DAYS): a new one is printed on every run."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from governance_site import roles, tokens

LOGIN_FILE = Path(settings.BASE_DIR) / ".demo-login"
DEMO_TOKEN_DAYS = 1


class Command(BaseCommand):
    help = "Create the demo operator (staff, in governance-operator) if missing; print its login and an API token."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if not User.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=username, password=password, is_staff=True)
            user.groups.add(Group.objects.get(name=roles.OPERATOR))
            LOGIN_FILE.write_text(f"{username} {password}\n")
            LOGIN_FILE.chmod(0o600)
        if LOGIN_FILE.exists():
            name, password = LOGIN_FILE.read_text().split()
            self.stdout.write(f"Demo operator login: username {name!r}, password {password!r}")
        else:
            self.stdout.write(
                f"User {username!r} already exists; set its password with `python manage.py changepassword {username}`."
            )
        instance, token = tokens.issue(user=User.objects.get(username=username), days=DEMO_TOKEN_DAYS)
        self.stdout.write(f"API token (expires {instance.expiry:%Y-%m-%d %H:%M %Z}): {token}")
