"""Who may export and import a community's worksheets: its own operators only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.access import DECIDING_ROLES

if TYPE_CHECKING:
    from services.accounts import User


class WorksheetRefused(PermissionError):
    """This user may not export or import this community's worksheets."""


def may_work(user: User, community: str) -> bool:
    """Whether a user may export and import this community's worksheets: its own operators only.

    Worksheets carry full names and birth years to be taken out of the office, and come back as decisions,
    which only operators make (`services.access.DECIDING_ROLES`).
    """
    return user.role in DECIDING_ROLES and user.scope == community


def check_access(user: User, community: str) -> None:
    """Raise `WorksheetRefused` unless `may_work`."""
    if not may_work(user, community):
        raise WorksheetRefused(f"{user.username} may not use the worksheets of {community}: only its operators")
