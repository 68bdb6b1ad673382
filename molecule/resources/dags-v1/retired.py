"""A DAG that the fixture's second commit deletes."""
from datetime import datetime

from airflow import DAG
try:  # Airflow 3: the standard provider
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:  # Airflow 2
    from airflow.operators.empty import EmptyOperator

with DAG(dag_id="retired", start_date=datetime(2019, 12, 1), schedule=None, catchup=False) as dag:
    EmptyOperator(task_id="noop")
