"""datawharf: files in S3-compatible storage become published, queryable, exportable datasets."""

__version__ = "0.1.0"
