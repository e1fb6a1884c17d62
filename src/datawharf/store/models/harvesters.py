"""Harvesters: a prefix or glob of one bucket whose objects (or first-level folders) each become a dataset.

A harvester keeps what it made in ``harvested_datasets`` (source key -> dataset uid), so a pass knows
which keys are new, which are still there and which are gone. ``dataset_uid`` and ``connection_uid`` are
plain indexed columns: no foreign key crosses domains (a dataset deleted by hand leaves a row the next
pass notices and replaces).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from datawharf.store.models.base import UID, Base, Timestamped


class Harvester(Timestamped, Base):
    __tablename__ = "harvesters"

    uid: Mapped[str] = mapped_column(UID, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(Text)  # the prefix or glob, as given (relative to the connection's)
    connection_uid: Mapped[str | None] = mapped_column(UID, index=True, default=None)
    mode: Mapped[str] = mapped_column(String(16), default="object")  # "object" | "folder"
    extractor_type: Mapped[str | None] = mapped_column(String(64), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dataset_id_template: Mapped[str] = mapped_column(String(200), default="{path}")
    title_template: Mapped[str] = mapped_column(String(500), default="{path}")
    restrict_datasets_visibility: Mapped[bool] = mapped_column(Boolean, default=False)
    forced_metas: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Its one schedule (``harvest/schedules.py`` shows it as the reference's schedules list).
    cron_schedule: Mapped[str | None] = mapped_column(String(200), default=None)
    schedule_timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    next_run_at: Mapped[datetime | None] = mapped_column(index=True, default=None)

    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)  # the API key's name
    status: Mapped[str] = mapped_column(String(16), default="idle")
    last_started_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last pass: counts ({"created": n, ...}), the error that stopped it, the errors by key.
    last_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    harvester_error: Mapped[str | None] = mapped_column(Text, default=None)
    resource_errors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    remote_count: Mapped[int] = mapped_column(Integer, default=0)

    datasets: Mapped[list[HarvestedDataset]] = relationship(
        cascade="all, delete-orphan", order_by="HarvestedDataset.source_key"
    )


class HarvestedDataset(Base):
    __tablename__ = "harvested_datasets"
    __table_args__ = (UniqueConstraint("harvester_uid", "source_key", name="uq_harvested_datasets_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    harvester_uid: Mapped[str] = mapped_column(ForeignKey("harvesters.uid", ondelete="CASCADE"), index=True)
    source_key: Mapped[str] = mapped_column(Text)  # the object's key, or the folder's prefix ("a/b/")
    dataset_uid: Mapped[str] = mapped_column(UID, index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)  # False: gone at the last pass
