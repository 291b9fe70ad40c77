import pytest


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """A request in Korean activates Korean on the thread, and the test client leaves it
    active; the next test starts in the default language again."""
    yield
    from django.utils import translation

    translation.deactivate()
