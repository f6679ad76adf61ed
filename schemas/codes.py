"""Codes of the data contract (§2, §4) as enums."""

from __future__ import annotations

from enum import StrEnum

from schemas import labels


class Status(StrEnum):
    """Status of one input record (contract §4)."""

    CONSISTENT = "consistent"
    MOVED_WITHIN = "moved_within"
    ABSENT = "absent"
    UNREGISTERED = "unregistered"
    REVIEW = "review"
    DUPLICATE = "duplicate"
    INACTIVE = "inactive"

    @property
    def label(self) -> str:
        """The Chinese label used on screens and in exports."""
        return labels.STATUS_LABELS[self.value]


class Side(StrEnum):
    """Which input a record comes from: the police register or a community roll."""

    REGISTER = "register"
    ROLL = "roll"

    @property
    def other(self) -> Side:
        """The side a link joins this one to."""
        return Side.ROLL if self is Side.REGISTER else Side.REGISTER


class QueueKind(StrEnum):
    """What an operator is asked to settle."""

    PAIR = "pair"
    """A review-band pair: is this one person?"""
    UNREGISTERED = "unregistered"
    """A lone roll record: 人在户不在."""
    ABSENT = "absent"
    """A lone register record: 户在人不在."""

    @property
    def label(self) -> str:
        """The Chinese label used on screens."""
        return labels.QUEUE_KIND_LABELS[self.value]

    @property
    def side(self) -> Side | None:
        """The side of a lone item's record (a pair has both: None).

        >>> QueueKind.UNREGISTERED.side, QueueKind.ABSENT.side, QueueKind.PAIR.side
        (<Side.ROLL: 'roll'>, <Side.REGISTER: 'register'>, None)
        """
        return {QueueKind.UNREGISTERED: Side.ROLL, QueueKind.ABSENT: Side.REGISTER}.get(self)

    @property
    def decisions(self) -> tuple[DecisionKind, ...]:
        """The decisions an operator may make on an item of this kind, in the order the page offers them.

        >>> [d.value for d in QueueKind.ABSENT.decisions]
        ['confirm_absent', 'door_visit']
        """
        if self is QueueKind.PAIR:
            return (DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON, DecisionKind.DOOR_VISIT)
        confirm = DecisionKind.CONFIRM_UNREGISTERED if self is QueueKind.UNREGISTERED else DecisionKind.CONFIRM_ABSENT
        return (confirm, DecisionKind.DOOR_VISIT)


class ItemState(StrEnum):
    """Where a queue item stands for the operator."""

    PENDING = "pending"
    """Not decided yet."""
    CHANGED = "changed"
    """Decided on records that have changed since: to be decided again."""
    DECIDED = "decided"
    VISIT = "visit"
    """Sent for a door visit."""

    @property
    def label(self) -> str:
        """The Chinese label used on screens."""
        return labels.ITEM_STATE_LABELS[self.value]

    @property
    def open(self) -> bool:
        """Still waiting for an operator."""
        return self in (ItemState.PENDING, ItemState.CHANGED)


class Outcome(StrEnum):
    """What became of a standing decision in tonight's run."""

    APPLIED = "applied"
    """Its records are there with the values it was made on."""
    CHANGED = "changed"
    """A compared value changed: set aside, the item comes back."""
    GONE = "gone"
    """A record it was made on is no longer delivered."""


class DecidedBy(StrEnum):
    """Who decided a link (contract §3, `links.decided_by`)."""

    AUTO = "auto"
    REVIEW = "review"
    OPERATOR = "operator"


class Quarantine(StrEnum):
    """Why a row could not go on (contract §2)."""

    UNIDENTIFIABLE = "unidentifiable"
    """Neither a name nor a valid ID number."""
    UNKNOWN_COMMUNITY = "unknown_community"
    """No community code or known community name, in the row or the file name."""
    MALFORMED_ROW = "malformed_row"
    """A CSV line whose field count differs from the header's."""
    NO_ADDRESS = "no_address"
    """A roll row without an address: it places nobody anywhere."""


class Issue(StrEnum):
    """A field that could not be trusted on a row that went on without it."""

    ID_MISSING = "id_missing"
    ID_BAD_FORMAT = "id_bad_format"
    ID_BAD_CHECK = "id_bad_check"
    ID_BAD_BIRTH_DATE = "id_bad_birth_date"
    NAME_MISSING = "name_missing"
    BIRTH_DATE_UNPARSABLE = "birth_date_unparsable"
    BIRTH_DATE_CONFLICTS_ID = "birth_date_conflicts_id"
    SEX_UNKNOWN = "sex_unknown"
    SEX_CONFLICTS_ID = "sex_conflicts_id"
    MOVED_IN_UNPARSABLE = "moved_in_unparsable"
    HOUSEHOLD_MISSING = "household_missing"
    ADDRESS_UNPARSED = "address_unparsed"


class FileProblem(StrEnum):
    """Why a whole file could not be read (contract §2)."""

    ENCODING = "encoding"
    CORRUPT = "corrupt"
    MISSING_COLUMNS = "missing_columns"
    EMPTY = "empty"
    UNSUPPORTED = "unsupported"
    NO_COMMUNITY = "no_community"
    TOO_LARGE = "too_large"
    """An xlsx over the size limits (file or unpacked), not loaded: a zip bomb could stop the run."""


class DecisionKind(StrEnum):
    """What an operator decided about a queue item."""

    SAME_PERSON = "same_person"
    DIFFERENT_PERSON = "different_person"
    CONFIRM_UNREGISTERED = "confirm_unregistered"
    """人在户不在 confirmed: lives here, not registered here."""
    CONFIRM_ABSENT = "confirm_absent"
    """户在人不在 confirmed: registered here, not living here."""
    DOOR_VISIT = "door_visit"

    @property
    def label(self) -> str:
        """The Chinese label used on screens, in the audit log and in exports."""
        return labels.DECISION_LABELS[self.value]

    @property
    def is_pair(self) -> bool:
        """Made on a pair of records (same or different person), not on one lone record."""
        return self in (DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON)


class Role(StrEnum):
    """What a review-app user may see and do."""

    OPERATOR = "operator"
    """Community operator: one community (scope = its 12-digit code)."""
    SUPERVISOR = "supervisor"
    """Street supervisor: the communities of one street or town (scope = its name)."""
    LIAISON = "liaison"
    """Police liaison: reads and exports the communities of one station (scope = its name)."""
    ADMIN = "admin"
    """Manages users."""

    @property
    def label(self) -> str:
        """The Chinese label used on screens."""
        return labels.ROLE_LABELS[self.value]
