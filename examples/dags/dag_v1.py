"""The runbook's first DAG: print the date, then sleep and list /tmp."""
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3: the standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

default_args = {
    "owner": "airflow",
    "depends_on_past": False,
    "start_date": datetime(2019, 12, 1),
    "retries": 1,
    "retry_delay": timedelta(minutes=3),
}

with DAG(
    dag_id="dag_v1",
    default_args=default_args,
    schedule="0 9 * * *",
    catchup=False,
    tags=["example"],
) as dag:
    print_date = BashOperator(task_id="print_date", bash_command="date")
    sleep = BashOperator(task_id="sleep", bash_command="sleep 5")
    ls = BashOperator(task_id="ls", bash_command="ls /tmp")

    print_date >> [sleep, ls]
