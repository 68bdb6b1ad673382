"""One task for the queue of cluster-worker3, the worker added last."""
import socket

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(dag_id="pinned_worker3", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def pinned_worker3():
    @task(queue="worker3")
    def on_worker3():
        host = socket.gethostname()
        print(f"pinned task ran on {host}")
        return host

    on_worker3()


pinned_worker3()
