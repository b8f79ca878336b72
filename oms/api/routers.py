from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """The contract's paths have no trailing slash (``/orders/{id}/cancel``); accept one too."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
