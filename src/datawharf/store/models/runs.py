"""The runs table: one row per background run (a publish today), owned by ``jobs/runs.py``.

A run's claim, heartbeat, fencing and recovery live here rather than on the row of what it works on
(the dataset), so that ``jobs/`` needs to know nothing of datasets: ``subject_uid`` is a plain indexed
column (the dataset's uid), no foreign key across domains. ``heartbeat_at`` is always set from the
database clock, so that processes on machines whose clocks disagree judge staleness the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from datawharf.store.models.base import UID, Base

RunStatus = Literal["queued", "running", "abort_requested", "done", "failed", "aborted"]


class Run(Base):
    __tablename__ = "runs"

    uid: Mapped[str] = mapped_column(UID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_uid: Mapped[str] = mapped_column(UID, index=True)
    # A part of another run (``datasets/parts.py``): the run that waits for it, and what it must do.
    parent_uid: Mapped[str | None] = mapped_column(UID, index=True, default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[RunStatus] = mapped_column(String(32), default="queued", index=True)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
