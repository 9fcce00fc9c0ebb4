"""The import page for admins (`/import`): upload a file, check the suggested mapping, dry run, import.

The page runs exactly what `crm import` runs (builder/importing), as the signed-in
admin. An upload is kept in a private temporary folder of this process (each file capped
at MAX_UPLOAD_BYTES) and only its uploader may use it. A second file of child rows may
come with it; a mapping's `file:` may name that file and no other. A real run goes on in a thread of
the server; its page polls itself every two seconds for the rows done, offers a stop
button (the current batch finishes, then the run stops and can be resumed from the
command line), and shows the integrity report at the end.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from builder.importing import ImportFailed, ImportOptions, open_source, run_import
from builder.importing.mapping import parse_mapping
from builder.importing.running import ImportReport, records_entities
from builder.importing.store import list_runs, load_run, new_import_id
from builder.importing.suggesting import SAMPLE_ROWS, other_sheets, suggest_mapping
from engines.forms.models import localized

from .i18n import register_texts
from .methods import ExclusiveRoute
from .security.guards import Forbidden, NotAuthenticated, forbidden_response, not_authenticated_response, require_role
from .security.rendering import render

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
IMPORT_ROLES = ("admin",)
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")

register_texts(
    {
        "app.import": {"en": "Import", "zh-CN": "导入"},
        "import.title": {"en": "Import records", "zh-CN": "导入记录"},
        "import.hint": {
            "en": "A CSV (any common encoding, GBK too) or XLSX file. Every row is checked by the same rules "
            "as a form; nothing is written before you choose Import.",
            "zh-CN": "CSV(常见编码均可,包括 GBK)或 XLSX 文件。每一行都按与表单相同的规则检查;"
            "点击“导入”之前不会写入任何数据。",
        },
        "import.entity": {"en": "Import as", "zh-CN": "导入为"},
        "import.file": {"en": "File", "zh-CN": "文件"},
        "import.child_file": {
            "en": "Child rows (optional): a second file, e.g. a visit's prescriptions",
            "zh-CN": "子行(可选):第二个文件,例如就诊的处方",
        },
        "import.same_name": {
            "en": "The two files have the same name; rename one of them.",
            "zh-CN": "两个文件同名,请重命名其中一个。",
        },
        "import.upload": {"en": "Upload", "zh-CN": "上传"},
        "import.too_large": {
            "en": "The file is larger than {limit}; split it or use crm import.",
            "zh-CN": "文件超过 {limit},请拆分后上传,或使用 crm import 命令。",
        },
        "import.no_file": {"en": "Choose a CSV or XLSX file.", "zh-CN": "请选择 CSV 或 XLSX 文件。"},
        "import.columns": {"en": "Columns", "zh-CN": "列"},
        "import.mapping": {"en": "Mapping (edit it if a column is wrong)", "zh-CN": "映射(如有列不对请修改)"},
        "import.dry_run": {"en": "Dry run", "zh-CN": "试运行"},
        "import.run": {"en": "Import", "zh-CN": "导入"},
        "import.stop": {"en": "Stop", "zh-CN": "停止"},
        "import.report": {"en": "Dry run: nothing was written", "zh-CN": "试运行:未写入任何数据"},
        "import.rows_read": {"en": "Rows read", "zh-CN": "读取行数"},
        "import.created": {"en": "Created", "zh-CN": "新建"},
        "import.updated": {"en": "Updated", "zh-CN": "更新"},
        "import.skipped": {"en": "Skipped (duplicates)", "zh-CN": "跳过(重复)"},
        "import.rejected": {"en": "Rejected", "zh-CN": "拒绝"},
        "import.row": {"en": "Row", "zh-CN": "行"},
        "import.child_rows": {
            "en": (
                "Child rows from {source}: {read} read, {attached} with their row, "
                "{orphans} without a row in the main file"
            ),
            "zh-CN": "{source} 中的子行:读取 {read} 行,随所属行写入 {attached} 行,{orphans} 行在主文件中找不到所属行",
        },
        "import.orphan_rows": {"en": "rows {rows}", "zh-CN": "第 {rows} 行"},
        "import.column": {"en": "Column", "zh-CN": "列"},
        "import.message": {"en": "Problem", "zh-CN": "问题"},
        "import.duplicate": {"en": "Duplicate of", "zh-CN": "重复于"},
        "import.file_row": {"en": "row {row} of the file", "zh-CN": "文件第 {row} 行"},
        "import.record": {"en": "record {id}", "zh-CN": "记录 {id}"},
        "import.running": {"en": "Importing… {done} rows done", "zh-CN": "正在导入……已完成 {done} 行"},
        "import.stopped": {
            "en": "Stopped. Resume with: crm import {entity} FILE --resume {id}",
            "zh-CN": "已停止。继续导入:crm import {entity} 文件 --resume {id}",
        },
        "import.failed": {"en": "The import failed: {reason}", "zh-CN": "导入失败:{reason}"},
        "import.done": {"en": "Import {id} finished", "zh-CN": "导入 {id} 已完成"},
        "import.integrity": {"en": "Integrity: file against database", "zh-CN": "完整性:文件与数据库对照"},
        "import.matches": {"en": "matches", "zh-CN": "一致"},
        "import.differs": {"en": "differs", "zh-CN": "不一致"},
        "import.in_file": {"en": "In the file", "zh-CN": "文件中"},
        "import.in_database": {"en": "In the database", "zh-CN": "数据库中"},
        "import.checksum": {"en": "Checksums", "zh-CN": "校验值"},
        "import.rejects": {"en": "Download the rejected rows", "zh-CN": "下载被拒绝的行"},
        "import.child_rejects": {"en": "Download their child rows ({name})", "zh-CN": "下载其子行({name})"},
        "import.recent": {"en": "Recent imports", "zh-CN": "最近的导入"},
        "import.status.running": {"en": "Running", "zh-CN": "进行中"},
        "import.status.stopped": {"en": "Stopped", "zh-CN": "已停止"},
        "import.status.done": {"en": "Finished", "zh-CN": "已完成"},
        "import.gone": {
            "en": "This upload is no longer here; upload the file again.",
            "zh-CN": "上传的文件已不存在,请重新上传。",
        },
    }
)


@dataclass
class Upload:
    path: Path
    name: str
    entity: str
    owner: str
    child: Path | None = None  # a second file of child rows, beside `path`


@dataclass
class RunState:
    """A run going on in this process: rows done so far, the report at the end, the stop flag."""

    entity: str
    owner: str
    done: int = 0
    total: int | None = None
    report: ImportReport | None = None
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class ImportPages:
    def __init__(self, runtime: Any) -> None:
        self.records = runtime.records
        self.engine = runtime.engine
        self.blueprint = runtime.blueprint
        self.folder = Path(tempfile.mkdtemp(prefix="crm-import-"))  # mode 0700
        self.uploads: dict[str, Upload] = {}
        self.runs: dict[str, RunState] = {}

    def _admin(self, request: Request) -> Any:
        return require_role(request, *IMPORT_ROLES)

    def _entities(self, actor: Any, locale: str) -> list[tuple[str, str]]:
        specs = records_entities(self.records)
        return [
            (name, localized(spec.title, locale, name))
            for name, spec in specs.items()
            if self.records.policy.grant(actor, name).create
        ]

    async def index(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        try:
            actor = self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        runs = await anyio.to_thread.run_sync(list_runs, self.engine)
        specs = records_entities(self.records)
        labels = {name: localized(spec.title, request.state.locale, name) for name, spec in specs.items()}
        return render(
            request,
            self.blueprint,
            "import.html",
            status_code=status,
            entities=self._entities(actor, request.state.locale),
            runs=runs,
            labels=labels,
            error=error,
            limit=_size(MAX_UPLOAD_BYTES),
        )

    async def upload(self, request: Request) -> Response:
        try:
            actor = self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        locale = request.state.locale
        limit = _size(MAX_UPLOAD_BYTES)
        if int(request.headers.get("content-length") or 0) > 2 * MAX_UPLOAD_BYTES + 64 * 1024:
            return await self.index(request, _t("import.too_large", locale, limit=limit), 413)
        async with request.form(max_files=2, max_fields=10) as form:
            entity = str(form.get("entity") or "")
            upload = form.get("file")
            second = form.get("child_file")
            if entity not in dict(self._entities(actor, locale)):
                return await self.index(request, _t("import.no_file", locale), 422)
            if not _chosen(upload):
                return await self.index(request, _t("import.no_file", locale), 422)
            files = [f for f in (upload, second) if _chosen(f) and isinstance(f, UploadFile)]
            names = [_safe_name(Path(f.filename or "").name) for f in files]
            if any(Path(n).suffix.lower() not in SUFFIXES for n in names):
                return await self.index(request, _t("import.no_file", locale), 422)
            if len(names) == 2 and names[0].lower() == names[1].lower():
                return await self.index(request, _t("import.same_name", locale), 422)
            upload_id = secrets.token_urlsafe(12)
            folder = self.folder / upload_id
            folder.mkdir(mode=0o700)
            for file, name in zip(files, names, strict=True):  # the run and its rejects keep the files' names
                if not await _save(file, folder / name):
                    for stored in folder.iterdir():
                        stored.unlink()
                    folder.rmdir()
                    return await self.index(request, _t("import.too_large", locale, limit=limit), 413)
        child = folder / names[1] if len(names) == 2 else None
        original = Path(files[0].filename or "").name
        self.uploads[upload_id] = Upload(folder / names[0], original, entity, actor.name, child)
        return RedirectResponse(f"/import/u/{upload_id}", status_code=303)

    def _upload(self, request: Request, actor: Any) -> Upload | None:
        found = self.uploads.get(request.path_params["upload_id"])
        return found if found is not None and found.owner == actor.name and found.path.exists() else None

    async def mapping(self, request: Request) -> Response:
        try:
            actor = self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        upload = self._upload(request, actor)
        if upload is None:
            return await self.index(request, _t("import.gone", request.state.locale), 404)
        try:
            columns, text = await anyio.to_thread.run_sync(self._suggest, upload)
        except ImportFailed as exc:
            return await self.index(request, str(exc), 422)
        return self._mapping_page(request, upload, columns, text)

    def _suggest(self, upload: Upload) -> tuple[list[str], str]:
        with open_source(upload.path) as source:
            sample = [row.cells for row in islice(source.rows, SAMPLE_ROWS)]
            columns = source.columns
        others = other_sheets(upload.path, None, [upload.child] if upload.child else [])
        mapping = suggest_mapping(upload.entity, records_entities(self.records), columns, sample, others)
        return columns, mapping.to_yaml()

    def _mapping_page(
        self,
        request: Request,
        upload: Upload,
        columns: list[str],
        text: str,
        report: ImportReport | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        return render(
            request,
            self.blueprint,
            "import_mapping.html",
            status_code=status,
            upload_id=request.path_params["upload_id"],
            upload=upload,
            columns=columns,
            mapping_text=text,
            report=report,
            error=error,
        )

    async def dry_run(self, request: Request) -> Response:
        try:
            actor = self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        upload = self._upload(request, actor)
        if upload is None:
            return await self.index(request, _t("import.gone", request.state.locale), 404)
        async with request.form(max_files=0, max_fields=10) as form:
            text = str(form.get("mapping") or "")
        columns: list[str] = []
        try:
            columns, _suggested = await anyio.to_thread.run_sync(self._suggest, upload)
            mapping = _entity_mapping(text, upload)
            report = await anyio.to_thread.run_sync(
                lambda: run_import(self.records, actor, upload.path, mapping, ImportOptions(dry_run=True))
            )
        except ImportFailed as exc:
            return self._mapping_page(request, upload, columns, text, error=str(exc), status=422)
        report.file = upload.name
        return self._mapping_page(request, upload, columns, text, report=report)

    async def start(self, request: Request) -> Response:
        try:
            actor = self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        upload = self._upload(request, actor)
        if upload is None:
            return await self.index(request, _t("import.gone", request.state.locale), 404)
        async with request.form(max_files=0, max_fields=10) as form:
            text = str(form.get("mapping") or "")
        try:
            mapping = _entity_mapping(text, upload)
        except ImportFailed as exc:
            columns, _suggested = await anyio.to_thread.run_sync(self._suggest, upload)
            return self._mapping_page(request, upload, columns, text, error=str(exc), status=422)
        import_id = new_import_id()
        state = RunState(upload.entity, actor.name)
        self.runs[import_id] = state

        def progress(done: int, total: int | None) -> None:
            state.done, state.total = done, total

        def work() -> None:
            options = ImportOptions(import_id=import_id, should_stop=state.stop.is_set)
            try:
                state.report = run_import(self.records, actor, upload.path, mapping, options, progress)
            except ImportFailed as exc:
                state.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - shown on the page, never a traceback
                state.error = type(exc).__name__

        threading.Thread(target=work, name=f"import-{import_id}", daemon=True).start()
        return RedirectResponse(f"/import/runs/{import_id}", status_code=303)

    async def run_page(self, request: Request) -> Response:
        try:
            self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        import_id = request.path_params["import_id"]
        state = self.runs.get(import_id)
        summary = None
        if state is None or (state.report is None and state.error is None and not _alive(import_id)):
            try:
                run = await anyio.to_thread.run_sync(load_run, self.engine, import_id)
            except ImportFailed:
                return await self.index(request, _t("import.gone", request.state.locale), 404)
            summary = run.summary
            state = state or RunState(run.entity, run.actor)
        report = state.report.as_dict(problems=500) if state.report is not None else summary
        return render(
            request,
            self.blueprint,
            "import_run.html",
            import_id=import_id,
            state=state,
            report=report,
            running=report is None and state.error is None,
        )

    async def stop(self, request: Request) -> Response:
        try:
            self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        state = self.runs.get(request.path_params["import_id"])
        if state is not None:
            state.stop.set()
        return RedirectResponse(f"/import/runs/{request.path_params['import_id']}", status_code=303)

    async def rejects(self, request: Request) -> Response:
        try:
            self._admin(request)
        except (NotAuthenticated, Forbidden) as exc:
            return _refusal(request, exc)
        state = self.runs.get(request.path_params["import_id"])
        path = state.report.rejects_path if state is not None and state.report is not None else None
        child = request.path_params.get("child")
        if child is not None:  # a second file's own rejects (its child rows of the rejected rows)
            paths = state.report.child_rejects if state is not None and state.report is not None else []
            path = paths[child] if child < len(paths) else None
        if path is None or not path.exists():
            return await self.index(request, _t("import.gone", request.state.locale), 404)
        return FileResponse(path, filename=path.name)


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB" if count >= 1024 * 1024 else f"{count / 1024:g} KB"


def _safe_name(name: str) -> str:
    """The uploaded file's own name, without anything that could leave its folder."""
    cleaned = "".join(c for c in name if c not in "/\\:\x00").strip(". ")[-120:]
    return cleaned or "upload.csv"


def _alive(import_id: str) -> bool:
    return any(t.name == f"import-{import_id}" and t.is_alive() for t in threading.enumerate())


def _chosen(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and bool(value.filename)


async def _save(upload: Any, target: Path) -> bool:
    """Stream an uploaded file to `target`; False (nothing kept) past MAX_UPLOAD_BYTES."""
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                out.close()
                target.unlink()
                return False
            out.write(chunk)
    return True


def _entity_mapping(text: str, upload: Upload) -> Any:
    mapping = parse_mapping(text)
    if mapping.entity != upload.entity:
        raise ImportFailed(f"the mapping is for `{mapping.entity}`, not `{upload.entity}`")
    allowed = [upload.child.name] if upload.child is not None else []
    strangers = [name for name in mapping.child_sources() if name not in allowed]
    if strangers:  # any other name would be a file of the server's
        where = f"the uploaded second file `{allowed[0]}`" if allowed else "a second file uploaded with the first"
        raise ImportFailed(
            f"children: `file: {strangers[0]}` is not uploaded here: child rows come from a sheet of the "
            f"uploaded workbook (`sheet:`) or from {where}"
        )
    return mapping


def _t(key: str, locale: str, **params: Any) -> str:
    from .i18n import translate

    return translate(key, locale, **params)


def _refusal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NotAuthenticated):
        return not_authenticated_response(request, exc)
    assert isinstance(exc, Forbidden)
    return forbidden_response(request, exc)


def import_routes(runtime: Any) -> list[BaseRoute]:
    """`/import` (upload), `/import/u/{id}` (mapping, dry run, run), `/import/runs/{id}` (progress, report)."""
    pages = ImportPages(runtime)
    return [
        ExclusiveRoute("/import", pages.index, methods=["GET"], name="import"),
        ExclusiveRoute("/import/upload", pages.upload, methods=["POST"], name="import_upload"),
        ExclusiveRoute("/import/u/{upload_id}", pages.mapping, methods=["GET"], name="import_mapping"),
        ExclusiveRoute("/import/u/{upload_id}/dry-run", pages.dry_run, methods=["POST"], name="import_dry_run"),
        ExclusiveRoute("/import/u/{upload_id}/run", pages.start, methods=["POST"], name="import_run"),
        ExclusiveRoute("/import/runs/{import_id}", pages.run_page, methods=["GET"], name="import_progress"),
        ExclusiveRoute("/import/runs/{import_id}/stop", pages.stop, methods=["POST"], name="import_stop"),
        ExclusiveRoute("/import/runs/{import_id}/rejects", pages.rejects, methods=["GET"], name="import_rejects"),
        ExclusiveRoute(
            "/import/runs/{import_id}/rejects/{child:int}", pages.rejects, methods=["GET"], name="import_child_rejects"
        ),
    ]
