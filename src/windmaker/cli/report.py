"""``windmaker report``: a brand's (or a provider's) monthly report as HTML, and PDF on request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit


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
    from windmaker.reports import brand_report, provider_report, to_pdf
    from windmaker.store import (
        engine_for,
        get_provider,
        list_assignments,
        list_evaluations,
        open_session,
    )
    from windmaker.store.errors import NotFoundError
    from windmaker.views import ReadModel
    from windmaker.workspace import open_warehouse

    settings = settings_or_exit(workspace)
    language = lang or settings.language
    folder = out or settings.path("reports")
    try:
        if provider:
            with open_session(engine_for(settings)) as session:
                p = get_provider(session, provider_id=subject)
                html = provider_report(
                    p,
                    list_evaluations(session, provider_id=subject),
                    list_assignments(session, provider_id=subject),
                    month,
                    language,
                )
        else:
            rm = ReadModel(lambda: open_warehouse(settings))
            rm.reload()
            html = brand_report(rm, subject, month, language)
    except (LookupError, NotFoundError, StopIteration) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{'provider' if provider else 'brand'}-{subject}-{month or 'latest'}-{language}"
    html_path = folder / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    console.print(f"HTML: {html_path}")
    if pdf:
        console.print(f"PDF:  {to_pdf(html, folder / f'{stem}.pdf')}")
