import polars as pl

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
