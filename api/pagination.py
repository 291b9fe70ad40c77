from rest_framework.pagination import CursorPagination


class Pagination(CursorPagination):
    """Newest first, a page at a time, through opaque `next` / `previous` links. A
    cursor reads the page in index order (`user`, -`created_at`) however long the
    history is; page numbers with a total count would count every row on each call."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
