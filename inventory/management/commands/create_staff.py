from django.core.management.base import BaseCommand, CommandError

from oms.choices import StaffRole
from oms.errors import DomainError
from oms.staff import staff_create


class Command(BaseCommand):
    help = (
        "Create a staff member and print only the secret: their API token, which is also their Django "
        "admin password unless --password is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=StaffRole.values)
        parser.add_argument("--locations", default="", help="comma-separated location codes (associates)")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None, help="admin password (default: the printed token)")
        parser.add_argument("--rotate", action="store_true", help="issue a new token for an existing user")

    def handle(self, *args, **opts):
        codes = [c.strip() for c in opts["locations"].split(",") if c.strip()]
        try:
            _, token = staff_create(
                username=opts["username"],
                role=opts["role"],
                location_codes=codes,
                password=opts["password"],
                email=opts["email"],
                rotate=opts["rotate"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(token)
