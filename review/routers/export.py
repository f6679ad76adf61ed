"""Verified lists for police liaisons (their own station) and admins, as a zip download.

The files are built in a private temporary directory, zipped in memory and removed
before the response goes out: the server keeps no copy (the `exports` table and the
audit log keep the manifest). No `from __future__ import annotations` here: FastAPI
reads these signatures.
"""

import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from review import data
from review.deps import Checked, Context, Session, render, require_role
from services import access
from services.export import export, zip_bytes

router = APIRouter(tags=["export"])

Exporter = Annotated[Session, Depends(require_role(*access.EXPORT_ROLES))]


@router.get("/export", response_class=HTMLResponse)
def export_form(request: Request, ctx: Context, sess: Exporter) -> Response:
    """The export form: the stations and communities this user sees."""
    with data.database(ctx.data_dir) as con:
        communities = data.communities(con, sess.user)
    stations = sorted({c["police_station"] for c in communities if c["police_station"]})
    return render(request, ctx, "export.html", sess, stations=stations, communities=communities)


@router.post("/export")
def export_download(
    ctx: Context,
    sess: Exporter,
    _csrf: Checked,
    station: Annotated[str, Form()] = "",
    community: Annotated[str, Form()] = "",
    fmt: Annotated[Literal["xlsx", "csv"], Form()] = "xlsx",
) -> Response:
    """The verified lists of one station or community and their manifest, zipped.

    403 when the user may not export that scope; 422 for a request naming no
    scope or two, an unknown format, or a scope with no published community.
    """
    try:
        scope = access.export_scope_for(ctx.data_dir, sess.user, station=station, community=community)
    except access.BadExportRequest as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except access.ExportRefused as exc:
        raise HTTPException(status_code=403, detail="not allowed to export this") from exc
    with tempfile.TemporaryDirectory(prefix="hukou-export-") as tmp:
        out = Path(tmp)
        try:
            manifest = export(ctx.data_dir, scope, out, username=sess.user.username, fmt=fmt)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        body = zip_bytes(sorted(out.iterdir()))
    filename = quote(manifest.name.removesuffix("_manifest.json") + ".zip")
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )
