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
        ['confirm_absent', 'moved_out', 'deceased', 'found_present', 'door_visit']
        """
        if self is QueueKind.PAIR:
            return (DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON, DecisionKind.DOOR_VISIT)
        if self is QueueKind.UNREGISTERED:
            return (
                DecisionKind.CONFIRM_UNREGISTERED,
                DecisionKind.NOT_LIVING_HERE,
                DecisionKind.REGISTERED_SINCE,
                DecisionKind.DOOR_VISIT,
            )
        return (
            DecisionKind.CONFIRM_ABSENT,
            DecisionKind.MOVED_OUT,
            DecisionKind.DECEASED,
            DecisionKind.FOUND_PRESENT,
            DecisionKind.DOOR_VISIT,
        )


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
    POLICY = "policy"
    """A lone record verified by the verification policy: its evidence alone (`verified_by` only, never a link)."""


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
    VACANT_FLAT = "vacant_flat"
    """A roll row recording a flat as empty (空置, no name, no ID): no person, but evidence for that flat."""


class Issue(StrEnum):
    """A field that could not be trusted on a row that went on without it."""

    ID_MISSING = "id_missing"
    ID_BAD_FORMAT = "id_bad_format"
    ID_BAD_CHECK = "id_bad_check"
    ID_BAD_BIRTH_DATE = "id_bad_birth_date"
    ID_ROUNDED = "id_rounded"
    """An ID typed into Excel as a number: 15 digits kept, zeros after them; only those 15 are compared."""
    NAME_MISSING = "name_missing"
    BIRTH_DATE_UNPARSABLE = "birth_date_unparsable"
    BIRTH_DATE_CONFLICTS_ID = "birth_date_conflicts_id"
    SEX_UNKNOWN = "sex_unknown"
    SEX_CONFLICTS_ID = "sex_conflicts_id"
    MOVED_IN_UNPARSABLE = "moved_in_unparsable"
    HOUSEHOLD_MISSING = "household_missing"
    ADDRESS_UNPARSED = "address_unparsed"
    PLACE_LEARNT = "place_learnt"
    """A roll row written at a place name the register does not know, read as the registered place where most of
    the people linked at that name live at their registered flat (`reconcile.aliases`)."""
    ADDRESS_FROM_ABOVE = "address_from_above"
    """A roll row that wrote its address as 同上 / 〃 or left it blank: the address of the row above was taken."""


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
    MOVED_OUT = "moved_out"
    """户在人不在 confirmed: the person has moved out (已迁出)."""
    DECEASED = "deceased"
    """户在人不在 confirmed: the person has died (已死亡)."""
    FOUND_PRESENT = "found_present"
    """A registered person found living at the registered flat after all: 人户一致, the roll missed them."""
    NOT_LIVING_HERE = "not_living_here"
    """A roll record of someone who does not live there: settled, the roll is to be corrected."""
    REGISTERED_SINCE = "registered_since"
    """A roll record of someone who has registered here since: settled, next extract will show it."""

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


class Evidence(StrEnum):
    """What the night's data says about a lone record (户在人不在 / 人在户不在), for whoever settles it."""

    OTHERS_AT_FLAT = "others_at_flat"
    """Registered side: the roll records other people at the registered flat."""
    FAMILY_AT_FLAT = "family_at_flat"
    """Registered side: the roll records others of the same household at the registered flat, not this person."""
    FLAT_EMPTY = "flat_empty"
    """Registered side: the roll records the registered flat as empty."""
    FLAT_MISSED = "flat_missed"
    """Registered side: the flat is not in the roll while other flats of its building are (likely missed)."""
    BUILDING_UNVISITED = "building_unvisited"
    """Registered side: no flat of the building is in the roll (likely not visited)."""
    ADDRESS_UNKNOWN = "address_unknown"
    """Registered side: the registered address names no building the roll could be checked against."""
    LIVES_ELSEWHERE = "lives_elsewhere"
    """Registered side: linked to a roll record of another community of the city."""
    REGISTERED_ELSEWHERE = "registered_elsewhere"
    """Roll side: linked to a register record of another community of the city."""
    NAMESAKE_ELSEWHERE = "namesake_elsewhere"
    """Roll side: someone of the same name is registered elsewhere in the city (a search hint, never a link)."""
    NOT_IN_EXTRACT = "not_in_extract"
    """Roll side: nobody like this person is in the extract (registered outside the city)."""

    @property
    def label(self) -> str:
        """The Chinese label used on screens, worksheets and exports."""
        return labels.EVIDENCE_LABELS[self.value]

    @property
    def may_verify(self) -> bool:
        """Whether a verification policy may let this evidence verify a record without a visit.

        Not where the evidence is an absence of evidence (a building or flat the roll may simply have missed, an
        address nobody could place) nor a namesake (a hint to search, never a finding).

        >>> Evidence.OTHERS_AT_FLAT.may_verify, Evidence.BUILDING_UNVISITED.may_verify
        (True, False)
        """
        return self not in (
            Evidence.FLAT_MISSED,
            Evidence.BUILDING_UNVISITED,
            Evidence.ADDRESS_UNKNOWN,
            Evidence.NAMESAKE_ELSEWHERE,
        )

    @property
    def side(self) -> Side:
        """The side of the records this evidence is about.

        >>> Evidence.FLAT_MISSED.side, Evidence.NOT_IN_EXTRACT.side
        (<Side.REGISTER: 'register'>, <Side.ROLL: 'roll'>)
        """
        roll = (Evidence.REGISTERED_ELSEWHERE, Evidence.NAMESAKE_ELSEWHERE, Evidence.NOT_IN_EXTRACT)
        return Side.ROLL if self in roll else Side.REGISTER


class VisitResult(StrEnum):
    """What a door visit found, as the worksheet's result column offers it (入户核查结果)."""

    PRESENT = "present"
    NOT_PRESENT = "not_present"
    MOVED_OUT = "moved_out"
    DECEASED = "deceased"
    NO_SUCH_PERSON = "no_such_person"
    NEWLY_REGISTERED = "newly_registered"

    @property
    def label(self) -> str:
        """The Chinese word a worker writes (the worksheet's list values)."""
        return labels.VISIT_RESULT_LABELS[self.value]

    @classmethod
    def from_label(cls, text: str) -> VisitResult:
        """The result a worksheet cell states (its Chinese label, spaces ignored); ValueError if none.

        >>> VisitResult.from_label(" 已迁出 ")
        <VisitResult.MOVED_OUT: 'moved_out'>
        """
        wanted = "".join(text.split())
        for result in cls:
            if result.label == wanted:
                return result
        raise ValueError(f"not a visit result: {text!r}")

    def decision(self, side: Side) -> DecisionKind | None:
        """The decision this result makes on a lone record of `side` (None: it does not apply there).

        >>> VisitResult.PRESENT.decision(Side.REGISTER).value, VisitResult.PRESENT.decision(Side.ROLL).value
        ('found_present', 'confirm_unregistered')
        >>> VisitResult.NEWLY_REGISTERED.decision(Side.REGISTER) is None
        True
        """
        return _VISIT_DECISIONS[side].get(self)


_VISIT_DECISIONS: dict[Side, dict[VisitResult, DecisionKind]] = {
    Side.REGISTER: {
        VisitResult.PRESENT: DecisionKind.FOUND_PRESENT,
        VisitResult.NOT_PRESENT: DecisionKind.CONFIRM_ABSENT,
        VisitResult.MOVED_OUT: DecisionKind.MOVED_OUT,
        VisitResult.DECEASED: DecisionKind.DECEASED,
        VisitResult.NO_SUCH_PERSON: DecisionKind.CONFIRM_ABSENT,
    },
    Side.ROLL: {
        VisitResult.PRESENT: DecisionKind.CONFIRM_UNREGISTERED,
        VisitResult.NOT_PRESENT: DecisionKind.NOT_LIVING_HERE,
        VisitResult.MOVED_OUT: DecisionKind.NOT_LIVING_HERE,
        VisitResult.DECEASED: DecisionKind.NOT_LIVING_HERE,
        VisitResult.NO_SUCH_PERSON: DecisionKind.NOT_LIVING_HERE,
        VisitResult.NEWLY_REGISTERED: DecisionKind.REGISTERED_SINCE,
    },
}
"""Which decision each result makes on each side: a worker's word is the same, what it settles differs."""
