import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.dedupe import find_duplicates


def test_same_name_and_birth_in_one_roll_is_one_person() -> None:
    frame = pl.DataFrame(
        {
            "idx": [0, 1, 2, 3],
            "source_file": ["a.xlsx", "a.xlsx", "a.xlsx", "b.xlsx"],
            "source_row": [2, 3, 4, 2],
            "id18": [None, None, None, None],
            "name": ["张伟", "张伟", "张伟", "张伟"],
            "birth": ["1990-01-01", "1990-01-01", "1991-01-01", "1990-01-01"],
        }
    )
    dups = find_duplicates(frame, within_file_keys=[["name", "birth"]])
    assert dups.rows() == [(1, 0)]  # not row 2 (other birth), not b.xlsx (other file)


def test_different_valid_ids_are_never_merged() -> None:
    frame = pl.DataFrame(
        {
            "idx": [0, 1],
            "source_file": ["a.xlsx", "a.xlsx"],
            "source_row": [2, 3],
            "id18": ["11010519491231002X", "330282198703314419"],
            "name": ["张伟", "张伟"],
        }
    )
    assert find_duplicates(frame, within_file_keys=[["name"]]).height == 0


def test_one_id_twice_city_wide() -> None:
    frame = pl.DataFrame(
        {
            "idx": [0, 1],
            "source_file": ["b.xlsx", "a.xlsx"],
            "source_row": [5, 9],
            "id18": ["11010519491231002X", "11010519491231002X"],
            "name": ["张伟", "张玮"],
        }
    )
    assert find_duplicates(frame, within_file_keys=[]).rows() == [(0, 1)]


_record = st.tuples(
    st.sampled_from(["a.xlsx", "b.xlsx"]),
    st.sampled_from([None, "11010519491231002X", "330282198703314419"]),
    st.sampled_from([None, "张伟", "李强"]),
    st.sampled_from([None, "1990-01-01", "1991-01-01"]),
)


def _reference(
    records: list[tuple[str, str | None, str | None, str | None]], keys: list[list[str]]
) -> set[tuple[int, int]]:
    """Duplicates by the rule, plainly: records sharing every key (an ID city-wide, other keys within a file)
    are tied to their group's earliest record unless both hold different IDs; linked records form one person,
    whose earliest record (file, then row) is the primary."""
    columns = ("source_file", "id18", "name", "birth")
    rows = [dict(zip(columns, record, strict=True)) for record in records]
    earliest_first = sorted(range(len(rows)), key=lambda i: (rows[i]["source_file"], i))
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for group_keys in [["id18"], *(["source_file", *k] for k in keys)]:
        groups: dict[tuple[str | None, ...], list[int]] = {}
        for i in earliest_first:
            key = tuple(rows[i][k] for k in group_keys)
            if None not in key:
                groups.setdefault(key, []).append(i)
        for first, *others in groups.values():
            for other in others:
                if None in (rows[first]["id18"], rows[other]["id18"]) or rows[first]["id18"] == rows[other]["id18"]:
                    parent[root(other)] = root(first)
    position = {i: p for p, i in enumerate(earliest_first)}
    people: dict[int, list[int]] = {}
    for i in range(len(rows)):
        people.setdefault(root(i), []).append(i)
    out = set()
    for members in people.values():
        primary = min(members, key=position.__getitem__)
        out |= {(100 + m, 100 + primary) for m in members if m != primary}
    return out


@settings(max_examples=200, deadline=None)
@given(records=st.lists(_record, max_size=14))
def test_duplicates_follow_the_rule_for_any_records(
    records: list[tuple[str, str | None, str | None, str | None]],
) -> None:
    keys = [["name", "birth"], ["name"]]
    frame = pl.DataFrame(
        {
            "idx": [100 + i for i in range(len(records))],
            "source_file": [r[0] for r in records],
            "source_row": list(range(len(records))),
            "id18": [r[1] for r in records],
            "name": [r[2] for r in records],
            "birth": [r[3] for r in records],
        },
        schema={
            "idx": pl.Int64,
            "source_file": pl.String,
            "source_row": pl.Int64,
            "id18": pl.String,
            "name": pl.String,
            "birth": pl.String,
        },
    )
    assert set(find_duplicates(frame, within_file_keys=keys).rows()) == _reference(records, keys)


def _written_at(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Records of one roll with one name, at the parts given (dw_unit, dw_place, birth, sex; else set below)."""
    defaults = {"id18": None, "birth": None, "sex": None, "dw_class": "U", "dw_place": "金山花园", "dw_unit": None}
    full = [
        {"idx": i, "source_file": "a.xlsx", "source_row": i + 2, "name": "张伟", "dw_building": "6", "dw_room": "401"}
        | defaults
        | row
        for i, row in enumerate(rows)
    ]
    columns = ["idx", "source_file", "source_row", "name", "dw_building", "dw_room", *defaults]
    return pl.DataFrame(full, schema={c: pl.Int64 if c in ("idx", "source_row") else pl.String for c in columns})


def test_a_second_entry_leaving_the_unit_out_is_the_same_person() -> None:
    frame = _written_at([{"dw_unit": "2", "birth": "1990-01-01"}, {"dw_unit": None}, {"dw_unit": "2"}])
    assert find_duplicates(frame, within_file_keys=[], same_flat=True).rows() == [(1, 0), (2, 0)]
    assert find_duplicates(frame, within_file_keys=[]).height == 0  # the rule is asked for


def test_a_second_entry_leaving_the_estate_out_is_the_same_person() -> None:
    frame = _written_at([{"dw_unit": "2"}, {"dw_unit": "2", "dw_place": None}])
    assert find_duplicates(frame, within_file_keys=[], same_flat=True).rows() == [(1, 0)]


def test_an_entry_that_fits_two_namesakes_ties_nobody() -> None:
    """6幢401 beside 6幢1单元401 and 6幢2单元401: two people of one name, and a third record that may be either."""
    two_units = _written_at([{"dw_unit": "1"}, {"dw_unit": None}, {"dw_unit": "2"}])
    assert find_duplicates(two_units, within_file_keys=[], same_flat=True).height == 0
    chain = _written_at([{"dw_unit": "1"}, {"dw_unit": None}, {"dw_unit": None}, {"dw_unit": "2"}])
    assert find_duplicates(chain, within_file_keys=[], same_flat=True).height == 0
    two_births = _written_at([{"birth": "1990-01-01", "dw_unit": "1"}, {}, {"birth": "1960-05-05", "dw_unit": "1"}])
    assert find_duplicates(two_births, within_file_keys=[], same_flat=True).height == 0


def test_other_flats_sexes_and_files_are_other_people() -> None:
    frame = _written_at(
        [
            {"dw_unit": "1"},
            {"dw_room": "402"},  # another room
            {"dw_class": None},  # the class unstated: nothing to compare
            {"sex": "女", "dw_unit": None},
            {"sex": "男", "dw_unit": None},
        ]
    ).with_columns(pl.Series("source_file", ["a.xlsx", "a.xlsx", "a.xlsx", "b.xlsx", "b.xlsx"]))
    assert find_duplicates(frame, within_file_keys=[], same_flat=True).height == 0


_PARTS_WRITTEN = {
    "dw_class": st.sampled_from(["U", None]),
    "dw_place": st.sampled_from(["金山花园", "银山花园", None]),
    "dw_building": st.sampled_from(["6", "16"]),
    "dw_unit": st.sampled_from(["1", "2", None]),
    "dw_room": st.sampled_from(["401", None]),
    "birth": st.sampled_from(["1990-01-01", "1960-05-05", None]),
    "sex": st.sampled_from(["男", "女", None]),
    "id18": st.sampled_from(["own", None]),  # a valid ID number of its own: one ID is the ID rule's business
}
_written = st.fixed_dictionaries(_PARTS_WRITTEN)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_written, max_size=9))
def test_one_person_never_states_two_flats_births_or_sexes(rows: list[dict[str, str | None]]) -> None:
    """Whatever namesakes one roll holds, the records made one person state nothing two ways."""
    rows = [r | {"id18": f"ID{i}" if r["id18"] else None} for i, r in enumerate(rows)]
    frame = _written_at(rows)
    found = find_duplicates(frame, within_file_keys=[], same_flat=True)
    groups: dict[int, set[int]] = {}
    for idx, primary in found.iter_rows():
        groups.setdefault(primary, {primary}).add(idx)
    by_idx = {r["idx"]: r for r in frame.iter_rows(named=True)}
    for members in groups.values():
        for column in ("dw_class", "dw_place", "dw_building", "dw_unit", "dw_room", "birth", "sex", "id18"):
            stated = {by_idx[m][column] for m in members} - {None}
            assert len(stated) <= 1, (column, [by_idx[m] for m in members])
        for column in ("dw_class", "dw_building", "dw_room"):  # parts the rule never lets one record leave out
            assert len({by_idx[m][column] for m in members}) == 1


def _groups(found: pl.DataFrame) -> list[frozenset[int]]:
    people: dict[int, set[int]] = {}
    for idx, primary in found.iter_rows():
        people.setdefault(primary, {primary}).add(idx)
    return [frozenset(p) for p in people.values()]


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_written, max_size=9))
def test_the_rule_never_joins_what_the_other_keys_keep_apart(rows: list[dict[str, str | None]]) -> None:
    """With name + birth beside it: a person the rule adds to states no second birth, sex or ID number."""
    rows = [r | {"id18": f"ID{i}" if r["id18"] else None} for i, r in enumerate(rows)]
    frame = _written_at(rows)
    keys = [["name", "birth"]]
    before = set(_groups(find_duplicates(frame, within_file_keys=keys)))
    by_idx = {r["idx"]: r for r in frame.iter_rows(named=True)}
    for group in _groups(find_duplicates(frame, within_file_keys=keys, same_flat=True)):
        if group in before:
            continue  # the keys' own group: the rule added nobody
        for column in ("birth", "sex", "id18"):
            assert len({by_idx[m][column] for m in group} - {None}) <= 1, (column, [by_idx[m] for m in group])


def test_each_address_leaving_out_another_part_is_no_tie() -> None:
    """One names the estate and not the unit, the other the unit and not the estate: neither holds the other."""
    frame = _written_at([{"dw_unit": None}, {"dw_unit": "2", "dw_place": None}])
    assert find_duplicates(frame, within_file_keys=[], same_flat=True).height == 0


_at_one_door = st.fixed_dictionaries(
    {
        "dw_class": st.just("U"),
        "dw_building": st.just("6"),
        "dw_room": st.sampled_from(["401", "401", None]),
        **{k: v for k, v in _PARTS_WRITTEN.items() if k not in ("dw_class", "dw_building", "dw_room")},
    }
)
"""Two namesakes' addresses: at one building's door mostly, with what else they state drawn as `_written`'s."""


@settings(max_examples=400, deadline=None)
@given(a=_at_one_door, b=_at_one_door)
def test_two_namesakes_alone_are_one_person_where_one_address_holds_the_other(
    a: dict[str, str | None], b: dict[str, str | None]
) -> None:
    a, b = a | {"id18": "ID0" if a["id18"] else None}, b | {"id18": "ID1" if b["id18"] else None}
    found = find_duplicates(_written_at([a, b]), within_file_keys=[], same_flat=True)

    def agree(column: str) -> bool:
        return a[column] is None or b[column] is None or a[column] == b[column]

    def holds(x: dict[str, str | None], y: dict[str, str | None]) -> bool:  # x states every part y states
        return all(y[p] is None or x[p] is not None for p in ("dw_place", "dw_unit"))

    fits = all(a[c] == b[c] for c in ("dw_class", "dw_building", "dw_room")) and a["dw_room"] is not None
    same = fits and (holds(a, b) or holds(b, a))
    same = same and all(agree(c) for c in ("dw_place", "dw_unit", "birth", "sex", "id18"))
    assert (found.height == 1) == same, (a, b)
