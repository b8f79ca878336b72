import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from oms.models import ApiClient, StaffProfile, hash_key
from oms.services import api_client_create
from oms.staff import staff_create

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials"


class Command(BaseCommand):
    help = (
        "Create (once) the demo manager login, a store associate and a web-channel API key, and print them. "
        "The secrets are kept in .demo-credentials (git-ignored) so re-running the demo prints the same ones."
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
        self.stdout.write(
            "\nDemo OMS on http://127.0.0.1:8000\n"
            f"  Admin:  http://127.0.0.1:8000/admin/  user 'manager'   password {creds['manager']}\n"
            f"          (store associate of st-hcm-d1: user 'associate' password {creds['associate']})\n"
            f"  API:    http://127.0.0.1:8000/api/docs/\n"
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
