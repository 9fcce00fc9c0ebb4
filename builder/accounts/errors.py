"""The one error of account management, with a message fit to show an operator."""

from __future__ import annotations


class AccountError(Exception):
    """A refused account operation: unknown user, weak password, role not in the blueprint..."""
