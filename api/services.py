from rest_framework.authtoken.models import Token


def token_for(*, user) -> str:
    """The user's API token, made on first request; staff can also make or revoke
    tokens in the admin (Auth Token › Tokens)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
