"""``windmaker report``: a brand's (or a provider's) monthly report as HTML, and PDF on request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from windmaker.cli.common import WorkspaceOpt, console, refused, settings_or_exit


def report(
    subject: Annotated[str, typer.Argument(help="Brand id (or provider id with --provider)")],
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM (default: the latest diagnosed month)")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print it to PDF (Chromium)")] = False,
    lang: Annotated[
        str | None, typer.Option(help="zh-CN or en (default: the workspace language)")
    ] = None,
    provider: Annotated[
        bool, typer.Option("--provider", help="SUBJECT is a provider: its evaluation report")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: WORKSPACE/reports)")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Monthly report (月度报告) of a brand or a provider, HTML and optionally PDF."""
    from windmaker.reports import service as reports
    from windmaker.services.configs import Configs
    from windmaker.services.errors import ServiceError
    from windmaker.services.identity import workspace_admin
    from windmaker.store import engine_for, open_session
    from windmaker.views import ReadModel
    from windmaker.workspace import open_warehouse

    settings = settings_or_exit(workspace)
    language = lang or settings.language
    folder = out or settings.path("reports")
    user = workspace_admin("cli")
    printer = reports.printer_for(settings)
    try:
        if provider:
            with open_session(engine_for(settings)) as session:
                made = reports.provider_report(
                    session, user, subject, month, language, pdf, printer=printer
                )
        else:
            rm = ReadModel(
                lambda: open_warehouse(settings),
                trust_weights=Configs.of(settings).trust.score.weights,
            )
            rm.reload()
            made = reports.brand_report(rm, user, subject, month, language, pdf, printer=printer)
    except ServiceError as exc:
        raise refused(exc, settings, exit_code=2) from None
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{made.stem}.html"
    html_path.write_text(made.html, encoding="utf-8")
    console.print(f"HTML: {html_path}")
    if made.pdf is not None:
        pdf_path = folder / f"{made.stem}.pdf"
        pdf_path.write_bytes(made.pdf)
        console.print(f"PDF:  {pdf_path}")
