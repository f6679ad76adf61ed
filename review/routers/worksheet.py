"""Door-visit worksheets (入户核查表) in the app: print one for a grid, upload it filled, read the report.

Operators only, for their own community (`services.worksheet.check_access`, the rule the CLI applies too). The
download is built in a private temporary directory and removed before the response goes out; an upload is
limited in size before its body is read, kept in a private temporary directory while it is imported, then
removed. The import is the CLI's: `services.worksheet.import_worksheet`.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from review import data
from review.deps import AppContext, Checked, Context, Decider, Session, render
from services import worksheet
from services.export import safe_file_name

router = APIRouter(tags=["worksheet"])

MAX_UPLOAD = worksheet.MAX_BYTES + 64 * 1024
"""The largest upload request read (the worksheet's limit and room for the form around it)."""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload_limit(request: Request) -> None:
    """Refuse an upload before its body is read: no declared length (411) or one over `MAX_UPLOAD` (413).

    Raises:
        HTTPException: 411 or 413.
    """
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status_code=411, detail="the upload must state its length")
    if int(length) > MAX_UPLOAD:
        raise HTTPException(status_code=413, detail=f"a worksheet may be at most {worksheet.MAX_BYTES} bytes")


Limited = Annotated[None, Depends(upload_limit)]


def _community(sess: Session) -> str:
    """The operator's community (their scope); 403 for an operator without one."""
    if not sess.user.scope:
        raise HTTPException(status_code=403, detail="no community")
    return sess.user.scope


def _page(request: Request, ctx: AppContext, sess: Session, *, error: str = "", status_code: int = 200) -> Response:
    """The worksheets page: grids to print, upload form, worksheets out and back."""
    if not ctx.paths.published.exists():
        return render(request, ctx, "empty.html", sess)
    community = _community(sess)
    with data.database(ctx.data_dir) as con:
        found = data.communities(con, sess.user)
    name = next((c["community_name"] for c in found if c["community_code"] == community), community)
    return render(
        request,
        ctx,
        "worksheets.html",
        sess,
        status_code=status_code,
        community=community,
        community_name=name,
        grids=worksheet.grid_counts(ctx.data_dir, community),
        sheets=worksheet.sheets(ctx.paths.state, community),
        unknown_grid=worksheet.UNKNOWN_GRID,
        max_mb=worksheet.MAX_BYTES // (1024 * 1024),
        error=error,
    )


@router.get("/worksheets", response_class=HTMLResponse)
def worksheets_page(request: Request, ctx: Context, sess: Decider) -> Response:
    """Choose a grid and download its worksheet; upload a filled one; the community's worksheets out and back."""
    return _page(request, ctx, sess)


@router.post("/worksheets/export")
def worksheet_download(
    request: Request, ctx: Context, sess: Decider, _csrf: Checked, grid: Annotated[str, Form()] = ""
) -> Response:
    """The worksheet of the operator's community (one grid, or every grid a tab each) as an .xlsx attachment."""
    community = _community(sess)
    try:
        worksheet.check_access(sess.user, community)
    except worksheet.WorksheetRefused as exc:
        raise HTTPException(status_code=403, detail="not allowed") from exc
    with tempfile.TemporaryDirectory(prefix="hukou-worksheet-") as tmp:
        out = Path(tmp) / "worksheet.xlsx"
        try:
            summary = worksheet.build_worksheet(
                ctx.data_dir, community=community, grid=grid or None, username=sess.user.username, out=out
            )
        except ValueError as exc:  # nothing to visit there, or nothing published for the community
            return _page(request, ctx, sess, error=str(exc), status_code=422)
        body = out.read_bytes()
    ascii_name = f"worksheet_{community}_{summary.sheet_id}.xlsx"
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(summary.download_name)}"
        },
    )


@router.post("/worksheets/import", response_class=HTMLResponse)
async def worksheet_upload(request: Request, ctx: Context, sess: Decider, _limit: Limited, _csrf: Checked) -> Response:
    """Apply an uploaded worksheet and show the row-by-row report (422 with the reason for a file not ours)."""
    form = await request.form()  # already read by the CSRF check, after the size check
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, ctx, sess, error="请选择要导入的核查表文件 (choose a file)", status_code=422)
    content = await upload.read(worksheet.MAX_BYTES + 1)
    if len(content) > worksheet.MAX_BYTES:
        raise HTTPException(status_code=413, detail=f"a worksheet may be at most {worksheet.MAX_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="hukou-upload-") as tmp:
        path = Path(tmp) / safe_file_name(Path(upload.filename).name)
        path.write_bytes(content)
        path.chmod(0o600)
        try:
            report = await run_in_threadpool(worksheet.import_worksheet, ctx.data_dir, path, user=sess.user)
        except worksheet.WorksheetRefused as exc:
            raise HTTPException(status_code=403, detail="not allowed to import this community's worksheet") from exc
        except worksheet.WorksheetError as exc:
            return _page(request, ctx, sess, error=str(exc), status_code=422)
    return render(request, ctx, "worksheet_report.html", sess, report=report, outcomes=worksheet.RowOutcome)
