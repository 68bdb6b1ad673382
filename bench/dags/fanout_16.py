"""bench_fanout: 16 independent tasks, each holding about 10 MiB for 10 seconds.

bench/bench.py copies this file into a benchmark host's DAG folder, triggers
one run and samples the container's memory while it runs. One file for
Airflow 2.5 and later and for Airflow 3 (airflow.sdk where it exists).
"""
import time
from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task
except ImportError:
    from airflow.decorators import dag, task

TASKS = 16
MEBIBYTES = 10
SECONDS = 10


def hold(mebibytes=MEBIBYTES, seconds=SECONDS):
    """Keep MEBIBYTES of written memory for SECONDS; returns its size."""
    ballast = b"\x5a" * (mebibytes * 1024 * 1024)
    time.sleep(seconds)
    return len(ballast)


@dag(
    dag_id="bench_fanout",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["bench"],
)
def bench_fanout():
    for index in range(TASKS):
        task(task_id=f"hold_{index:02d}")(hold)()


bench_fanout()
