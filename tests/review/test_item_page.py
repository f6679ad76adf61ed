"""The pair page tells an operator how the two addresses relate and what the pair would mean."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from reconcile.idnumber import mask
from review.app import create_app
from review.present import mask_name
from tests.review.conftest import World, login


def test_a_roll_address_without_its_unit_reads_as_the_registered_flat(world: World) -> None:
    # Nothing short of certainty is auto-linked and operators may look at everything: pairs whose roll
    # entry has no ID number come to the queue, among them flats written without their 单元.
    run_pipeline(
        world.city["register"],
        world.city["rolls"],
        Settings(data_dir=world.data, target_precision=1.0, review_capacity=1.0),
        LOCAL,
    )
    rows = world.sql(
        """SELECT q.item_id, o.address_raw, r.address_raw FROM queue q
           JOIN run.links l ON l.rid = q.register_idx AND l.lid = q.roll_idx
           JOIN run.roll_records o ON o.idx = q.roll_idx
           JOIN run.register_records r ON r.idx = q.register_idx
           WHERE q.kind = 'pair' AND l.address_lvl = 3 AND o.community_code = r.community_code
             AND o.address_raw NOT LIKE '%单元%' AND NOT regexp_matches(o.address_raw, '\\d+\\s*-\\s*\\d+\\s*-\\s*\\d+')
           ORDER BY q.item_id LIMIT 1"""
    )
    assert rows, "the generated city writes some flats without their 单元"
    item, roll_address, register_address = rows[0]
    assert "单元" not in str(roll_address)
    assert "单元" in str(register_address)
    client = TestClient(create_app(world.data))
    login(client, "root")
    page = client.get(f"/items/{item}").text
    dwelling = re.search(r'<p id="dwelling">(.*?)</p>', page, re.S)
    assert dwelling, page
    assert "地址相容" in dwelling.group(1)
    assert re.search(r'<strong id="if-same">人户一致</strong>', dwelling.group(1))


def test_a_masked_view_never_shows_the_birth_date_beside_the_masked_id(world: World) -> None:
    # The masked ID keeps the area code and the last four characters; the birth date is the eight in between.
    (item, id_clean, birth) = world.sql(
        """SELECT q.item_id, r.id_clean, r.birth FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
           WHERE q.community_code = ? AND length(r.id_clean) = 18 ORDER BY q.item_id LIMIT 1""",
        [world.community],
    )[0]
    client = TestClient(create_app(world.data))
    login(client, "sup")
    page = re.sub(r"<[^>]+>", "", client.get(f"/items/{item}").text)
    assert mask(str(id_clean)) in page
    for shown_birth in (str(birth), str(birth).replace("-", ""), str(id_clean)[6:14]):
        assert shown_birth not in page
    assert str(birth)[:4] in page


def test_the_flat_panel_names_where_an_occupant_linked_elsewhere_is_registered(world: World) -> None:
    rows = world.sql(
        """SELECT q.item_id, o2.name, s2.other_community_code FROM queue q
           JOIN run.roll_records o ON o.idx = q.roll_idx
           JOIN run.roll_records o2 ON o2.flat = o.flat AND o2.community_code = o.community_code AND o2.idx <> o.idx
           JOIN run.record_status s2 ON s2.side = 'roll' AND s2.idx = o2.idx
           WHERE q.kind = 'unregistered' AND s2.status = 'unregistered' AND s2.verified_by IS NOT NULL
             AND s2.other_community_code <> o2.community_code
           ORDER BY q.item_id LIMIT 1"""
    )
    assert rows, "the small city has flats shared by an open 人在户不在 and someone registered in another community"
    item, name, other = rows[0]
    ((other_name,),) = world.sql("SELECT community_name FROM community_summary WHERE community_code = ?", [other])
    client = TestClient(create_app(world.data))
    login(client, "root")  # sees every community, names masked
    page = client.get(f"/items/{item}").text
    panel = page[page.index('id="flat"') : page.index("</section>", page.index('id="flat"'))]
    row = next(r for r in re.findall(r"<tr.*?</tr>", panel, re.S) if mask_name(str(name)) in r)
    assert f"户籍在 {other_name}" in row
    assert "已关联，无需处理" in row
    assert 'name="action"' not in panel  # an admin sees, never settles
    dwelling = page[page.index("others recorded at this dwelling") :]
    assert f"户籍在 {other_name}" in dwelling
