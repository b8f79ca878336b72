from rest_framework.throttling import SimpleRateThrottle

from oms.authentication import ApiClientUser


class ApiClientRateThrottle(SimpleRateThrottle):
    """Per API client (and per staff user) rate, from OMS_API_THROTTLE_RATE; 429 beyond it."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, ApiClientUser):
            ident = f"client-{user.api_client.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
