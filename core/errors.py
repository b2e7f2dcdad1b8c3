"""One error type for everything a user can fix, rendered as `convrec: error: <what> (<where>) — <what to do>`."""

from __future__ import annotations


class ConvrecError(Exception):
    """A failure we can explain. `exit_code` 2 means bad input, 1 an internal failure."""

    exit_code = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.fix:
            text += f" — {self.fix}"
        return text


class InputError(ConvrecError):
    """The user gave us something we cannot use: a file, an argument, a config value."""

    exit_code = 2


class CatalogError(InputError):
    """A catalog file is missing, malformed or inconsistent."""


class ModelError(ConvrecError):
    """A model file is missing, corrupt, or failed to load."""
