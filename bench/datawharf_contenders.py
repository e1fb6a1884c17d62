"""datawharf's own contenders: the hook ``bench.run`` calls. Empty until the import pipeline lands.

To add them, write two functions with the same contract as the peers in ``bench.peers``, run in their own
process by ``bench.measure`` (``obj`` names the object, its endpoint and credentials):

    def datawharf_preview(obj: S3Object, out_dir: Path) -> dict:
        # Through the core, as the API's preview does: a connection for obj.endpoint_url with
        # obj.access_key/obj.secret_key, the object at obj.url, the first 20 records.
        return {"rows": len(records), "columns": {name: type_name, ...}}

    def datawharf_publish(obj: S3Object, out_dir: Path) -> dict:
        # End to end, as the CLI's publish does, with the warehouse under out_dir.
        return {"output": str(path_of_the_published_parquet_file_or_folder)}

and list them below, e.g.

    HERE = "bench.datawharf_contenders"
    Contender(TOOL, "preview", f"{HERE}:datawharf_preview", ALL_FORMATS, preload=("datawharf",)),
    Contender(TOOL, "import", f"{HERE}:datawharf_publish", ALL_FORMATS, preload=("datawharf",)),

The tables then fill the "datawharf" column and the ratios (datawharf / best peer, datawharf / transport),
and the "types right" check reads the published Parquet file's types.
"""

from __future__ import annotations

from bench.objects import Contender

#: The name the tables and ratios look for.
TOOL = "datawharf"


def datawharf_contenders() -> list[Contender]:
    """datawharf's preview and publish contenders; none until the pipeline exists (tables say "not yet")."""
    return []
