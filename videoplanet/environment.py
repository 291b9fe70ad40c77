"""Reading settings from the environment: django-environ, made strict.

django-environ parses values but lets a mistake surface as a bare ValueError deep inside
the settings import ("invalid literal for int()"), or not at all (any unknown word is a
false boolean). Here every bad value stops start-up with ImproperlyConfigured naming the
variable, its value and what was expected."""

from __future__ import annotations

import os
import re

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def _bad(var: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{var}={os.environ.get(var, '')!r} is not valid: expected {expected}.")


class Env(environ.Env):
    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:
            raise
        except (ValueError, TypeError) as error:
            raise _bad(var, getattr(cast, "__name__", None) or str(cast)) from error

    def bool(self, var, default=environ.Env.NOTSET):
        if var not in os.environ:
            return super().bool(var, default=default)
        value = os.environ[var].strip().lower()
        if value not in _TRUE | _FALSE:
            raise _bad(var, "true or false (also 1/0, yes/no, on/off)")
        return value in _TRUE

    def counts_by_name(self, var: str, *, names: set[str], default: dict[str, int]) -> dict[str, int]:
        """`free=20,pro=200` (commas or semicolons between entries): a whole number >= 0 for
        each of `names`; names left out keep their default."""
        if var not in os.environ:
            return dict(default)
        expected = f"NAME=NUMBER entries separated by commas, NAME one of {', '.join(sorted(names))}"
        result = dict(default)
        for entry in os.environ[var].replace(";", ",").split(","):
            if not entry.strip():
                continue
            name, sep, number = (part.strip() for part in entry.partition("="))
            if not sep or name not in names or not number.isdigit():
                raise _bad(var, expected)
            result[name] = int(number)
        return result

    def database_url(self, var: str, *, default: str) -> dict:
        value = self.str(var, default="") or default
        expected = "a database URL such as postgres://user:pass@host:5432/name or sqlite:///path"
        try:
            config = self.db_url_config(value)
        except (ImproperlyConfigured, KeyError, ValueError) as error:
            raise _bad(var, expected) from error
        # An unknown scheme comes back as its own name where a backend's module path belongs.
        if "." not in config.get("ENGINE", ""):
            raise _bad(var, expected)
        return config

    def choice(self, var: str, *, choices: list[str], default: str) -> str:
        """One word out of `choices` (compared in lower case)."""
        value = self.str(var, default=default).strip().lower()
        if value not in choices:
            raise _bad(var, f"one of {', '.join(choices)}")
        return value

    def rate(self, var: str, *, default: str) -> str:
        """A throttle rate as REST framework reads it: `30/minute`, `10/second`, `100/day`."""
        value = self.str(var, default=default).strip()
        if not _RATE.match(value):
            raise _bad(var, "a rate such as 30/minute (per second, minute, hour or day)")
        return value

    def networks(self, var: str, *, default: list[str]) -> list[str]:
        """Comma-separated IP networks in CIDR form (`10.0.0.0/8,fd00::/8`)."""
        import ipaddress

        values = self.list(var, default=default)
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as error:
                raise _bad(var, "IP networks such as 10.0.0.0/8, separated by commas") from error
        return values
