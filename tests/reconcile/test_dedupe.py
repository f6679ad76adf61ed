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
