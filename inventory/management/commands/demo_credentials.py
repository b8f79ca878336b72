import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from oms.models import ApiClient, StaffProfile, hash_key
from oms.services import api_client_create
from oms.staff import staff_create

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials"


def _wait_until_served(url: str, seconds: float) -> bool:
    """Whether ``url`` answers (any HTTP status) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)


class Command(BaseCommand):
    help = (
        "Create (once) the demo manager login, a store associate and a web-channel API key, and print them. "
        "The secrets are kept in .demo-credentials (git-ignored) so re-running the demo prints the same ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="The port the demo serves on.")
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to wait for the server to answer before printing (./scripts/demo: the "
            "credentials come last, after the server's own banner).",
        )

    def handle(self, *args, **opts):
        creds = self._load()
        if creds is None:
            _, manager_token = staff_create(username="manager", role="manager", rotate=True)
            _, associate_token = staff_create(
                username="associate", role="associate", location_codes=["st-hcm-d1"], rotate=True
            )
            client = ApiClient.objects.filter(name="demo-web-storefront").first()
            if client is not None:
                client.delete()
            _, web_key = api_client_create(name="demo-web-storefront", channel_code="web")
            creds = {"manager": manager_token, "associate": associate_token, "web_api_key": web_key}
            CREDENTIALS_FILE.write_text(json.dumps(creds))
            CREDENTIALS_FILE.chmod(0o600)
        base = f"http://127.0.0.1:{opts['port']}"
        if opts["wait"] and not _wait_until_served(f"{base}/admin/login/", opts["wait"]):
            self.stderr.write(f"The server did not answer on {base} within {opts['wait']:g} s.")
        self.stdout.write(
            f"\nDemo OMS on {base}\n"
            f"  Admin:  {base}/admin/  user 'manager'   password {creds['manager']}\n"
            f"          (store associate of st-hcm-d1: user 'associate' password {creds['associate']})\n"
            f"  API:    {base}/api/docs/\n"
            f"  Web channel key:  Authorization: Bearer {creds['web_api_key']}\n"
            f"  Manager token:    Authorization: Bearer {creds['manager']}\n"
        )

    @staticmethod
    def _load() -> dict | None:
        """The saved secrets, if they still open this database (it may have been deleted since)."""
        if not CREDENTIALS_FILE.is_file():
            return None
        try:
            creds = json.loads(CREDENTIALS_FILE.read_text())
        except ValueError:
            return None
        manager_ok = StaffProfile.objects.filter(token_hash=hash_key(creds.get("manager", ""))).exists()
        client_ok = ApiClient.objects.filter(key_hash=hash_key(creds.get("web_api_key", ""))).exists()
        return creds if manager_ok and client_ok else None
