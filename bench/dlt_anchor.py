"""The benchmark's peer anchor: the same followers loaded by dlt, one pass in a fresh process.

    .venv-bench-dlt/bin/python bench/dlt_anchor.py < spec.json   # started by bench/scenarios.py (`run_dlt`)

Runs in its own virtualenv (`.venv-bench-dlt`, created by `make bench` with `dlt[postgres]`): dlt is
never a dependency of followersync, and this file imports nothing of it. It reads its spec as JSON on
stdin: the simulator's `base_url`, `api_key` and `account_id`, the scenario's database `db_url`, the
`dataset` (a schema of that database) and `pipelines_dir` (dlt's working directory, a temp dir of the
parent, kept from the first pass to the second as a daily job's would be). It prints one JSON line.

The pipeline is what a dlt user writes for a cursor-paginated REST API: a resource over dlt's
`RESTClient` that yields each page (a list of dicts) as it comes, with `write_disposition="merge"` and
`primary_key="id"` into dlt's postgres destination, with dlt's defaults otherwise (insert-values load
files, the delete-insert merge through a staging dataset). Timed like bench/child.py times a pass: the
wall time of `pipeline.run` (every page fetched, normalised, loaded and merged), after the imports
and the pipeline's creation; peak memory is VmHWM of this process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PAGE_SIZE = 200  # the most the API serves for Instagram, as followersync asks


def peak_rss_kb() -> int:
    """VmHWM of this process, in KiB (see bench/child.py for why not ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.stdin.read())
    # Before dlt is imported: no telemetry, and no global state outside the parent's temp dir.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = spec["pipelines_dir"]
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    counts = {"pages": 0, "items": 0}

    @dlt.resource(name="followers", write_disposition="merge", primary_key="id")
    def followers() -> Iterator[list[dict[str, Any]]]:
        client = RESTClient(
            base_url=spec["base_url"],
            headers={"X-API-KEY": spec["api_key"]},
            paginator=JSONResponseCursorPaginator(cursor_path="cursor", cursor_param="cursor"),
            data_selector="items",
        )
        for page in client.paginate(
            "/users/followers", params={"account_id": spec["account_id"], "limit": PAGE_SIZE}
        ):
            counts["pages"] += 1
            counts["items"] += len(page)
            yield page

    # dlt's postgres destination speaks psycopg2: a plain postgresql:// URL. dlt insists on a password;
    # a server that trusts the bench's user (as the bench's default does) ignores the placeholder.
    url = urlsplit(spec["db_url"].replace("postgresql+psycopg://", "postgresql://", 1))
    if url.password is None:
        url = url._replace(netloc=f"{url.username or ''}:unused@{url.netloc.rpartition('@')[2]}")
    credentials = urlunsplit(url)
    pipeline = dlt.pipeline(
        pipeline_name="followers_anchor",
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name=spec["dataset"],
        pipelines_dir=spec["pipelines_dir"],
    )
    rss_before = peak_rss_kb()
    started = time.perf_counter()
    info = pipeline.run(followers())
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "items": counts["items"],
                "requests": counts["pages"],
                "rss_before_kb": rss_before,
                "rss_kb": peak_rss_kb(),
                "dlt": dlt.__version__,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
