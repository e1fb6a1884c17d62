"""Backoffice sessions, kept server-side so that signing out ends them: the cookie only names one.

Only a hash of the session id is stored (like API keys), so a leaked database signs nobody in. A row
lives from sign-in to sign-out or ``expires_at``; a revoked API key ends its sessions too (the key is
checked at every request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from datawharf.store.models.base import UID, Base, utcnow


class BackofficeSession(Base):
    __tablename__ = "backoffice_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_uid: Mapped[str] = mapped_column(UID, ForeignKey("api_keys.uid", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
