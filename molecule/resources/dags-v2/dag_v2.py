"""A DAG that the fixture's second commit adds."""
from datetime import datetime

from airflow import DAG
try:  # Airflow 3: the standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

with DAG(dag_id="dag_v2", start_date=datetime(2019, 12, 1), schedule=None, catchup=False) as dag:
    BashOperator(task_id="hello", bash_command="echo hello")
