"""One action settles a registered household (整户处理) or a flat's unregistered occupants (同屋处理).

Each person gets their own decision and audit row, all sharing one batch; a stale form stores nothing;
undo withdraws the batch as a unit; a member whose values change comes back alone.
"""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from review.app import create_app
from schemas.codes import DecisionKind, ItemState
from services.audit import audit_log
from services.decisions import active_decisions, item_label
from tests.review.conftest import World, login

if TYPE_CHECKING:
    from pathlib import Path

    from httpx import Response


def _household(world: World) -> tuple[int, list[str]]:
    """An absent item of the operator's community whose household has several 户在人不在 members, and their keys."""
    rows = world.sql(
        """SELECT min(q.item_id), list(q.register_key ORDER BY q.item_id) FROM queue q
           JOIN run.register_records r ON r.idx = q.register_idx
           WHERE q.kind = 'absent' AND q.community_code = ?
           GROUP BY r.household_key HAVING count(*) >= 2 ORDER BY count(*) DESC, 1 LIMIT 1""",
        [world.community],
    )
    assert rows, "the small city has households registered and living elsewhere"
    item, keys = rows[0]
    assert isinstance(keys, list)
    return int(str(item)), [str(k) for k in keys]


def _flat(world: World) -> tuple[int, list[str]]:
    """An unregistered item of the operator's community sharing its flat with other 人在户不在 records, and their keys."""
    rows = world.sql(
        """SELECT min(q.item_id), list(q.roll_key ORDER BY q.item_id) FROM queue q
           JOIN run.roll_records o ON o.idx = q.roll_idx
           WHERE q.kind = 'unregistered' AND q.community_code = ? AND o.flat IS NOT NULL
           GROUP BY o.flat HAVING count(*) >= 2 ORDER BY count(*) DESC, 1 LIMIT 1""",
        [world.community],
    )
    assert rows, "the small city has flats of several unregistered people"
    item, keys = rows[0]
    assert isinstance(keys, list)
    return int(str(item)), [str(k) for k in keys]


def _form(client: TestClient, item: int, form_id: str) -> dict[str, list[str]]:
    """The hidden fields of one of an item page's forms (repeated names as lists)."""
    page = client.get(f"/items/{item}").text
    assert f'id="{form_id}"' in page, form_id
    form = page[page.index(f'id="{form_id}"') :]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]):
        fields.setdefault(name, []).append(value)
    return fields


def test_a_household_action_records_one_decision_per_open_member_in_one_batch(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    assert sorted(form["member_key"]) == sorted(keys)
    response = client.post(
        f"/items/{item}/household",
        data={**form, "action": "confirm_absent", "note": "网格员电话核实"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    target = response.headers["location"]
    assert f"batch={len(keys)}" in target
    decisions = active_decisions(world.state)
    assert sorted(decisions["register_key"].to_list()) == sorted(keys)
    assert set(decisions["kind"]) == {DecisionKind.CONFIRM_ABSENT.value}
    assert set(decisions["source"]) == {"household"}
    assert decisions["batch"].n_unique() == 1
    assert decisions["batch"][0]
    log = audit_log(world.state)
    decided = [e for e in log if e["action"] == "decide"]
    assert sorted(e["item"] for e in decided) == sorted(item_label(k, None) for k in keys)
    assert {e["note"] for e in decided} == {"网格员电话核实"}
    assert [e["item"] for e in log if e["action"] == "batch"] == [decisions["batch"][0]]
    # On to an open item that is none of the household's, saying what was recorded.
    assert f"已记录 {len(keys)} 个决定" in client.get(target).text
    landed = re.match(r"/items/(\d+)\?", target)
    if landed:
        (landed_key,) = world.sql("SELECT register_key FROM queue WHERE item_id = ?", [int(landed.group(1))])[0]
        assert landed_key not in keys


def test_partial_presence_finds_the_ticked_present_and_the_rest_absent(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    assert form["csrf_token"] == [csrf]
    response = client.post(
        f"/items/{item}/household", data={**form, "action": "partial", "present": [keys[0]]}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    kinds = dict(active_decisions(world.state).select("register_key", "kind").rows())
    assert kinds == {
        k: (DecisionKind.FOUND_PRESENT if k == keys[0] else DecisionKind.CONFIRM_ABSENT).value for k in keys
    }
    # The same form again: nobody it names is open any more, so nothing is stored twice.
    assert (
        client.post(f"/items/{item}/household", data={**form, "action": "partial"}, follow_redirects=False).status_code
        == 409
    )
    fresh = _form(client, item, "household-form")
    assert fresh.get("member_key") is None  # nobody is open any more: no buttons, no members to post


def _refused(response: Response, form_id: str) -> str:
    """The message of a refused household or flat form: the item page again, 422, saying why beside the panel."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f'id="{form_id}"' in page  # the page, with its panel, to act again
    error = re.search(r'<p class="form-error" id="group-error" role="alert">(.*?)</p>', page, re.S)
    assert error, page
    assert page.index(f'id="{form_id}"') < page.index('id="group-error"') < page.index("</form>", page.index(form_id))
    return error.group(1)


def test_a_partial_action_must_tick_someone_of_the_household(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    nobody = client.post(
        f"/items/{item}/household", data={**form, "action": "partial", "note": "电话核实"}, follow_redirects=False
    )
    assert "请勾选核实在住的成员" in _refused(nobody, "household-form")
    assert 'value="电话核实"' in nobody.text  # the note as it was typed
    stranger = {**form, "action": "partial", "present": ["R2:00000000000000000000", keys[0]]}
    refused = client.post(f"/items/{item}/household", data=stranger, follow_redirects=False)
    assert "不在本户待处理名单中" in _refused(refused, "household-form")
    assert re.search(rf'value="{re.escape(keys[0])}" aria-label="[^"]*" checked', refused.text)  # ticks kept
    unfit = client.post(f"/items/{item}/household", data={**form, "action": "same_person"}, follow_redirects=False)
    assert "不适用" in _refused(unfit, "household-form")
    no_action = client.post(f"/items/{item}/household", data=form, follow_redirects=False)
    assert "不适用" in _refused(no_action, "household-form")
    uneven = {**form, "action": "confirm_absent", "member_fingerprint": form["member_fingerprint"][1:]}
    assert "表单不完整" in _refused(
        client.post(f"/items/{item}/household", data=uneven, follow_redirects=False), "household-form"
    )
    flat_item, _ = _flat(world)
    flat_form = _form(client, flat_item, "flat-form")
    wrong = client.post(f"/items/{flat_item}/flat", data={**flat_form, "action": "moved_out"}, follow_redirects=False)
    assert "不适用" in _refused(wrong, "flat-form")
    assert active_decisions(world.state).is_empty()


def test_the_whole_household_found_present(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    page = client.get(f"/items/{item}").text
    assert '<button type="submit" name="action" value="found_present">全户在住</button>' in page
    response = client.post(f"/items/{item}/household", data={**form, "action": "found_present"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert f"batch={len(keys)}" in response.headers["location"]
    kinds = dict(active_decisions(world.state).select("register_key", "kind").rows())
    assert kinds == dict.fromkeys(keys, DecisionKind.FOUND_PRESENT.value)


def test_partial_presence_with_everyone_ticked_is_the_whole_household_present(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    response = client.post(
        f"/items/{item}/household", data={**form, "action": "partial", "present": keys}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    kinds = dict(active_decisions(world.state).select("register_key", "kind").rows())
    assert kinds == dict.fromkeys(keys, DecisionKind.FOUND_PRESENT.value)


def test_each_checkbox_names_its_member_and_enter_submits_no_action(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _household(world)
    names = {
        str(key): str(name)
        for key, name in world.sql(
            """SELECT q.register_key, r.name FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
               WHERE list_contains(?, q.register_key)""",
            [keys],
        )
    }
    page = client.get(f"/items/{item}").text
    form = page[page.index('id="household-form"') : page.index("</form>", page.index('id="household-form"'))]
    labels = dict(re.findall(r'name="present" value="([^"]+)" aria-label="([^"]+)"', form))
    assert sorted(labels) == sorted(keys)
    for key, label in labels.items():
        assert label.startswith(names[key]), label  # an operator sees names in full, as in the table
        assert label.endswith("在住")
    assert len(set(labels.values())) == len(labels)
    # The form's first submit button, which Enter in the note field presses, is a disabled one: no action.
    first = re.search(r"<button[^>]*>", form)
    assert first
    assert "disabled" in first.group(0)


def test_a_member_linked_to_another_community_says_where_and_is_settled(client: TestClient, world: World) -> None:
    rows = world.sql(
        """SELECT min(q.item_id), any_value(s.other_community_code) FILTER (s.other_community_code IS NOT NULL)
           FROM run.register_records r
           JOIN run.record_status s ON s.side = 'register' AND s.idx = r.idx
           LEFT JOIN queue q ON q.register_idx = r.idx AND q.kind = 'absent'
           WHERE r.community_code = ?
           GROUP BY r.household_key
           HAVING count(q.item_id) >= 1
              AND count(*) FILTER (s.status = 'absent' AND s.verified_by IS NOT NULL
                                   AND s.other_community_code IS NOT NULL) >= 1
           ORDER BY 1 LIMIT 1""",
        [world.community],
    )
    assert rows, "the small city has a household with a member linked to another community beside an open one"
    item, other = rows[0]
    ((other_name,),) = world.sql("SELECT community_name FROM community_summary WHERE community_code = ?", [other])
    login(client, "op")
    page = client.get(f"/items/{item}").text
    panel = page[page.index('id="household"') : page.index("</section>", page.index('id="household"'))]
    assert f"已查到住在 {other_name}" in panel
    assert "已关联，无需处理" in panel


def test_a_flat_action_settles_every_open_unregistered_occupant(client: TestClient, world: World) -> None:
    login(client, "op")
    item, keys = _flat(world)
    form = _form(client, item, "flat-form")
    assert sorted(form["member_key"]) == sorted(keys)
    response = client.post(f"/items/{item}/flat", data={**form, "action": "not_living_here"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    decisions = active_decisions(world.state)
    assert sorted(decisions["roll_key"].to_list()) == sorted(keys)
    assert set(decisions["kind"]) == {DecisionKind.NOT_LIVING_HERE.value}
    assert set(decisions["source"]) == {"flat"}
    assert decisions["batch"].n_unique() == 1
    # A household action does not fit an unregistered item, nor a flat action an absent one.
    household_item, _ = _household(world)
    assert (
        client.post(
            f"/items/{item}/household", data={**form, "action": "confirm_absent"}, follow_redirects=False
        ).status_code
        == 404
    )
    household_form = _form(client, household_item, "household-form")
    assert (
        client.post(
            f"/items/{household_item}/flat",
            data={**household_form, "action": "confirm_unregistered"},
            follow_redirects=False,
        ).status_code
        == 404
    )


def test_a_stale_member_refuses_the_whole_action(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    tampered = {**form, "member_fingerprint": ["0" * 20, *form["member_fingerprint"][1:]]}
    response = client.post(
        f"/items/{item}/household", data={**tampered, "action": "confirm_absent"}, follow_redirects=False
    )
    assert response.status_code == 409
    assert 'id="stale"' in response.text
    assert 'id="household-form"' in response.text  # the page as it is now, to decide again
    assert active_decisions(world.state).is_empty()
    # A member settled on their own meanwhile is no longer open: the old form is refused as well.
    other = int(str(world.sql("SELECT item_id FROM queue WHERE register_key = ?", [keys[-1]])[0][0]))
    single = _form(client, other, "decide-form")
    shown = {k: v[0] for k, v in single.items() if k != "csrf_token"}
    decided = client.post(
        f"/items/{other}/decide", data={"kind": "moved_out", "csrf_token": csrf, **shown}, follow_redirects=False
    )
    assert decided.status_code == 303
    response = client.post(
        f"/items/{item}/household", data={**form, "action": "confirm_absent"}, follow_redirects=False
    )
    assert response.status_code == 409
    assert active_decisions(world.state).select("register_key", "kind").rows() == [(keys[-1], "moved_out")]
    # The page as it is now offers the others only.
    assert sorted(_form(client, item, "household-form")["member_key"]) == sorted(keys[:-1])


def test_undo_withdraws_the_whole_batch_and_says_how_many(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item, keys = _household(world)
    form = _form(client, item, "household-form")
    assert (
        client.post(
            f"/items/{item}/household", data={**form, "action": "moved_out"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert active_decisions(world.state)["batch"].drop_nulls().len() == len(keys)
    response = client.post(
        "/undo",
        data={"csrf_token": csrf},
        headers={"referer": f"http://testserver/items/{item}"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/items/{item}?undone={len(keys)}"
    assert active_decisions(world.state).is_empty()
    assert [e["action"] for e in audit_log(world.state)][-1] == "undo_batch"
    page = client.get(response.headers["location"]).text
    assert f"已整批撤销 {len(keys)} 个决定" in page
    assert sorted(_form(client, item, "household-form")["member_key"]) == sorted(keys)  # all open again


def test_a_supervisor_sees_the_household_but_cannot_settle_it(client: TestClient, world: World) -> None:
    item, _ = _household(world)
    operator = TestClient(client.app)
    login(operator, "op")
    form = _form(operator, item, "household-form")
    flat_item, _ = _flat(world)
    flat_form = _form(operator, flat_item, "flat-form")
    for user in ("sup", "police", "root"):
        fresh = TestClient(create_app(world.data))
        csrf = login(fresh, user)
        page = fresh.get(f"/items/{item}").text
        assert 'id="household"' in page, user
        assert 'name="action"' not in page, user
        own = {**form, "csrf_token": [csrf]}
        assert (
            fresh.post(
                f"/items/{item}/household", data={**own, "action": "confirm_absent"}, follow_redirects=False
            ).status_code
            == 403
        )
        own_flat = {**flat_form, "csrf_token": [csrf]}
        assert (
            fresh.post(
                f"/items/{flat_item}/flat", data={**own_flat, "action": "not_living_here"}, follow_redirects=False
            ).status_code
            == 403
        )
    assert active_decisions(world.state).is_empty()
    # And the form needs its CSRF token.
    no_token = {k: v for k, v in form.items() if k != "csrf_token"}
    assert (
        operator.post(
            f"/items/{item}/household", data={**no_token, "action": "confirm_absent"}, follow_redirects=False
        ).status_code
        == 403
    )


def _rename(src: Path, dst: Path, register_key_id: str) -> None:
    """Copy the register CSV (GB18030, as the police deliver it) with one person's name changed.

    Their ID number, and so their record key, is kept: only the fingerprint changes.
    """
    with src.open(encoding="gb18030", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    id_col, name_col = header.index("公民身份号码"), header.index("姓名")
    changed = 0
    for row in rows[1:]:
        if row[id_col] == register_key_id:
            row[name_col] = row[name_col][:-1] + ("甲" if row[name_col][-1] != "甲" else "乙")
            changed += 1
    assert changed == 1
    with dst.open("w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows(rows)


def test_a_member_whose_values_change_comes_back_alone(client: TestClient, world: World, tmp_path: Path) -> None:
    login(client, "op")
    item, keys = _household(world)
    members = world.sql(
        """SELECT q.register_key, r.id_clean, r.source_row FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
           WHERE list_contains(?, q.register_key) AND length(r.id_clean) = 18 ORDER BY q.item_id""",
        [keys],
    )
    assert members, "a member with a valid ID number (its record key survives a changed name)"
    changed_key, changed_id, _ = members[0]
    form = _form(client, item, "household-form")
    assert (
        client.post(
            f"/items/{item}/household", data={**form, "action": "confirm_absent"}, follow_redirects=False
        ).status_code
        == 303
    )
    register = tmp_path / world.city["register"].name
    _rename(world.city["register"], register, str(changed_id))
    run_pipeline(register, world.city["rolls"], Settings(data_dir=world.data), LOCAL)
    after = {
        str(key): (outcome, verified_by)
        for key, outcome, verified_by in world.sql(
            """SELECT r.record_key, s.decision_outcome, s.verified_by FROM run.record_status s
               JOIN run.register_records r ON r.idx = s.idx AND s.side = 'register'
               WHERE list_contains(?, r.record_key)""",
            [keys],
        )
    }
    assert after == {k: ("changed", None) if k == changed_key else ("applied", "operator") for k in keys}
    # Only the changed member is open again; the rest of the batch stands.
    (again,) = world.sql("SELECT item_id FROM queue WHERE register_key = ? AND changed", [changed_key])[0]
    page = client.get(f"/items/{again}").text
    assert f'id="state">{ItemState.CHANGED.label}: {DecisionKind.CONFIRM_ABSENT.label} (op)' in page
    open_again = _form(client, int(str(again)), "household-form").get("member_key", [])
    assert open_again == [changed_key]
