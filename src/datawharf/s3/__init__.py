"""S3 access: everything datawharf knows about talking to S3 and S3-compatible stores.

- ``locations``: any S3 URL (AWS, OVH, custom, relative to a connection URL) -> ``S3Location``
- ``credentials``: botocore credentials objects (static keys; the IAM-role connections add assumed roles)
- ``client``: ``make_client`` / ``client_for``, one botocore client per connection
- ``netguard``: refuses private and link-local destinations unless allowed by setting
- ``errors``: botocore errors -> ``ConnectionProblem`` / ``UpstreamUnavailable`` with stable codes
- ``caches`` and ``reader``: ``head_object``, ``open_object`` -> a seekable file over ranged GETs

Nothing here knows about connections or datasets; those layers call in.
"""
