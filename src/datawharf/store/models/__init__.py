"""Every table, so that ``Base.metadata`` is complete wherever models are imported.

One module a domain; each domain owns its Alembic branch in ``store/migrations/versions``, rooted on
0001_apikeys (``0002_connections``, ``0003_datasets``...): ``Database.migrate`` upgrades every head, and
no foreign key crosses domains, so the branches apply in any order.
"""

from datawharf.store.models import (
    datasets,  # noqa: F401  (registers the dataset tables)
    harvesters,  # noqa: F401  (registers the harvester tables)
    runs,  # noqa: F401  (registers the runs table)
)
from datawharf.store.models.apikeys import ApiKey
from datawharf.store.models.base import Base, new_uid, utcnow
from datawharf.store.models.connections import Connection
from datawharf.store.models.sessions import BackofficeSession

__all__ = ["ApiKey", "BackofficeSession", "Base", "Connection", "new_uid", "utcnow"]
