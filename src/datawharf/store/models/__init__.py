"""Every table, so that ``Base.metadata`` is complete wherever models are imported.

One module a domain; each domain owns its Alembic revision in ``store/migrations/versions``, chained in
this order: 0001_apikeys <- 0002_connections <- 0003_datasets.
"""

from datawharf.store.models.apikeys import ApiKey
from datawharf.store.models.base import Base, new_uid, utcnow

__all__ = ["ApiKey", "Base", "new_uid", "utcnow"]
