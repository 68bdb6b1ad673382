"""Full refresh: replace a warehouse table with the rows of a CSV file.

DELETE and INSERT run between BEGIN and COMMIT, so the table holds either its
old rows or all the new ones, never half a load. On any error the task runs
ROLLBACK and raises the error again: the task fails, its log shows what went
wrong, and the table keeps its previous rows.

Needs a postgres connection `warehouse`. Optional Variables: `etl_csv_dir`
(the folder of the CSV, default: data/ beside this file) and `etl_csv_file`
(default trips.csv; trips_bad.csv has a bad fare in the middle).
"""
import csv
import logging
import os
from contextlib import closing

import pendulum
from airflow.providers.postgres.hooks.postgres import PostgresHook

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG, Variable, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable

log = logging.getLogger(__name__)

TABLE = "public.trips"
DEFAULT_CSV_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# Held until COMMIT or ROLLBACK; keyed by the table name.
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"
CREATE_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    trip_id     INTEGER PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    city        TEXT NOT NULL,
    distance_km NUMERIC(6, 1) NOT NULL,
    fare        NUMERIC(8, 2) NOT NULL
)"""
# The casts make PostgreSQL check every value: a bad number stops the load
# at that row.
INSERT_SQL = f"""
INSERT INTO {TABLE} (trip_id, started_at, city, distance_km, fare)
VALUES (%s::integer, %s::timestamptz, %s, %s::numeric, %s::numeric)"""
COLUMNS = ("trip_id", "started_at", "city", "distance_km", "fare")


def read_csv(path):
    """Return (line number, values) for each data line of the file."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return [(reader.line_num, tuple(row[c] for c in COLUMNS)) for row in reader]


with DAG(
    dag_id="etl_full_refresh",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example", "etl"],
    doc_md=__doc__,
) as dag:

    @task
    def load_trips():
        # Variables are read when the task runs, not each time the file is parsed.
        csv_dir = Variable.get("etl_csv_dir", DEFAULT_CSV_DIR)
        path = os.path.join(csv_dir, Variable.get("etl_csv_file", "trips.csv"))
        # Read the file before the transaction starts: keep the transaction short.
        rows = read_csv(path)
        log.info("Read %d rows from %s", len(rows), path)

        conn = PostgresHook(postgres_conn_id="warehouse").get_conn()
        # With autocommit on, only the BEGIN/COMMIT/ROLLBACK below group
        # statements into a transaction; nothing is committed behind our back.
        conn.autocommit = True
        # closing(): the connection is closed however the block ends
        # (psycopg2's own "with conn" only ends a transaction).
        with closing(conn), closing(conn.cursor()) as cur:
            line = None
            try:
                cur.execute("BEGIN")
                # Two loads at once (a manual run beside a scheduled one)
                # would race on CREATE TABLE and on the primary key: the
                # lock makes the second wait for the first to commit.
                cur.execute(LOCK_SQL, (TABLE,))
                cur.execute(CREATE_SQL)
                cur.execute(f"DELETE FROM {TABLE}")
                for line, values in rows:
                    cur.execute(INSERT_SQL, values)
                cur.execute("COMMIT")
            except Exception:
                # Undo the DELETE and every INSERT, then let the original
                # error fail the task: a swallowed error would mark the run
                # successful with an empty or half-loaded table.
                cur.execute("ROLLBACK")
                log.error("Rolled back: the load failed at %s line %s", path, line)
                raise
            cur.execute(f"SELECT COUNT(*) FROM {TABLE}")
            count = cur.fetchone()[0]
        log.info("%s now holds %d rows", TABLE, count)
        return count

    load_trips()
