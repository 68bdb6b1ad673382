"""A DAG file that cannot be imported: the import check must name it."""
from airflow import DAG
from airflow.operators.no_such_module import NoSuchOperator  # noqa: F401

with DAG(dag_id="broken", schedule=None) as dag:
    pass
