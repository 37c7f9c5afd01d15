"""Usage at any volume (issue 14, SPEC §14): the three measurements of the issue's acceptance, in one run.

    .venv/bin/python benchmarks/usage_scale.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/usage_scale.py --pg URL --events 2000000 20000000 --ingest-events 200000

1. `usage_ingest.py`: `POST /v1/events` (one uvicorn worker, then two with two clients, the rollup upkeep included)
   on a live feed against a CSV COPY of the same events into a table with usage_event's indexes; target >= 0.5.
2. `usage_snapshot.py`: a 10,000-customer health snapshot from the daily rollup and from raw events, at two event
   volumes (target on the rollup path: 10x the events <= 1.5x the time), every customer's health checked equal.
3. `usage_clickhouse.py`: the same snapshot's reads on the ClickHouse store (chDB in process) against the SQL raw
   path, raws checked equal.

Each part is the script beside this one, run as a child process on the same PostgreSQL server one after the other
(fresh databases each, dropped afterwards), so each prints its own ratios measured in its own alternating rounds.
Ratios, not bare times; a measurement, not a test. Exits 1 if any part fails its correctness check.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def part(title: str, script: str, *args: str) -> int:
    """Run one part; its output goes straight through. Its exit status."""
    print(f"\n=== {title} ({script}) ===", flush=True)
    began = time.perf_counter()
    status = subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode
    print(f"--- {script}: exit {status}, {time.perf_counter() - began:.0f} s", flush=True)
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", required=True, help="a PostgreSQL server URL (fresh databases are created on it)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, nargs=2, default=[2_000_000, 20_000_000], help="the two volumes")
    parser.add_argument("--ingest-events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", choices=("ingest", "snapshot", "clickhouse"), action="append", default=[])
    args = parser.parse_args()
    customers, runs = str(args.customers), str(args.runs)
    statuses = []
    if "ingest" not in args.skip:
        statuses.append(
            part(
                "1. API ingest vs COPY",
                "usage_ingest.py",
                "--pg",
                args.pg,
                "--events",
                str(args.ingest_events),
                "--customers",
                customers,
                "--rounds",
                runs,
                "--no-fk",
            )
        )
    if "snapshot" not in args.skip:
        volumes = [str(n) for n in args.events]
        statuses.append(
            part(
                "2. Health snapshot: rollup vs raw, two volumes",
                "usage_snapshot.py",
                "--pg",
                args.pg,
                "--customers",
                customers,
                "--events",
                *volumes,
                "--runs",
                runs,
            )
        )
    if "clickhouse" not in args.skip:
        statuses.append(
            part(
                "3. Health snapshot reads on the ClickHouse store",
                "usage_clickhouse.py",
                "--pg",
                args.pg,
                "--customers",
                customers,
                "--events",
                str(args.events[0]),
                "--rounds",
                runs,
            )
        )
    sys.exit(1 if any(statuses) else 0)


if __name__ == "__main__":
    main()
