"""A task that waits without holding a worker slot: the sensor defers to the
triggerer, so the run finishes only while airflow-triggerer runs."""
from datetime import datetime

from airflow import DAG

try:  # Airflow 3: the standard provider
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
except ImportError:  # Airflow 2
    from airflow.sensors.date_time import DateTimeSensorAsync

with DAG(
    dag_id="deferrable",
    start_date=datetime(2019, 12, 1),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    DateTimeSensorAsync(
        task_id="wait_10_seconds",
        target_time="{{ (macros.datetime.utcnow() + macros.timedelta(seconds=10)).isoformat() }}",
    )
