"""Integration fixtures (app, databases); the S3 server fixtures live in tests/conftest.py."""

from tests.support.app import app_client, database_url

__all__ = ["app_client", "database_url"]
