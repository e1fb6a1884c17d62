"""S3 harvesters: every object (or first-level folder) under a prefix becomes its own dataset.

``naming`` makes identifiers, titles and URLs from keys (no I/O), ``service`` saves and checks
harvesters, ``harvest`` is the pass that keeps the datasets in step with the bucket, ``scheduler`` starts
the due ones. Core: nothing here imports the faces.
"""
