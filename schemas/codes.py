"""Codes of the data contract (§2, §4) as enums."""

from __future__ import annotations

from enum import StrEnum


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
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.CONSISTENT: "人户一致",
    Status.MOVED_WITHIN: "同社区人户分离",
    Status.ABSENT: "户在人不在",
    Status.UNREGISTERED: "人在户不在",
    Status.REVIEW: "待核实",
    Status.DUPLICATE: "重复登记",
    Status.INACTIVE: "非正常户籍",
}


class Side(StrEnum):
    REGISTER = "register"
    ROLL = "roll"


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
        return DECISION_LABELS[self]


DECISION_LABELS: dict[DecisionKind, str] = {
    DecisionKind.SAME_PERSON: "同一人",
    DecisionKind.DIFFERENT_PERSON: "不是同一人",
    DecisionKind.CONFIRM_UNREGISTERED: "确认人在户不在",
    DecisionKind.CONFIRM_ABSENT: "确认户在人不在",
    DecisionKind.DOOR_VISIT: "需上门核实",
}


class Role(StrEnum):
    OPERATOR = "operator"
    """Community operator: one community (scope = its 12-digit code)."""
    SUPERVISOR = "supervisor"
    """Street supervisor: the communities of one street or town (scope = its name)."""
    LIAISON = "liaison"
    """Police liaison: reads and exports the communities of one station (scope = its name)."""
    ADMIN = "admin"
    """Manages users."""
