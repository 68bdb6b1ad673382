"""Sixteen tasks at once, each saying which host ran it, and one task pinned
to the queue of cluster-worker1."""
import socket
import time

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(
    dag_id="fanout",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=32,
    params={"sleep": 5},
    default_args={"retries": 3, "retry_delay": pendulum.duration(seconds=5)},
)
def fanout():
    @task
    def record(index, params=None):
        time.sleep(int(params["sleep"]))
        host = socket.gethostname()
        print(f"task {index} ran on {host}")
        return host

    @task(queue="worker1")
    def pinned():
        host = socket.gethostname()
        print(f"pinned task ran on {host}")
        return host

    for index in range(16):
        record(index)
    pinned()


fanout()
