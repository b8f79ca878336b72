from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    """Cursor pagination (stable under inserts, no COUNT(*)): {"next", "previous", "results"}."""

    ordering = "pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class NewestFirstCursorPagination(DefaultCursorPagination):
    ordering = "-pk"
