"""Jobs: the heavy work a user started (uploads, refreshes), with progress and result.

A user sees the jobs they started; an admin sees every job. Someone else's job is answered
exactly like an absent one (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from windmaker.api.deps import CurrentUser, StateDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError
from windmaker.api.schemas import JobPublic

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)


@router.get("/jobs", response_model=list[JobPublic], summary="The caller's jobs, newest first")
async def list_jobs(
    user: CurrentUser,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[JobPublic]:
    return [
        JobPublic.model_validate(j, from_attributes=True) for j in state.jobs.visible(user, limit)
    ]


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="Progress and result of a job")
async def get_job(job_id: str, user: CurrentUser, state: StateDep) -> JobPublic:
    job = state.jobs.get_for(job_id, user)
    if job is None:
        raise ApiError(404, "not_found")
    return JobPublic.model_validate(job, from_attributes=True)
