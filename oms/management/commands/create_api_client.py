from django.core.management.base import BaseCommand, CommandError

from oms.choices import ChannelKind
from oms.errors import DomainError
from oms.services import api_client_create


class Command(BaseCommand):
    help = "Create a channel API client and print only its key (shown once; stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--channel", required=True, help="channel code; created if --kind is given")
        parser.add_argument("--kind", choices=ChannelKind.values, default=None)
        parser.add_argument("--currency", default="USD", help="currency of a channel created here")

    def handle(self, *args, **opts):
        try:
            _, key = api_client_create(
                name=opts["name"], channel_code=opts["channel"], kind=opts["kind"], currency=opts["currency"]
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(key)
