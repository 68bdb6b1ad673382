"""Incremental update: each run loads only the rows of its own data interval.

A run covers data_interval_start <= started_at < data_interval_end. It
deletes that interval's rows and inserts them again in one transaction, so
running the same interval twice (a retry, a clear, a backfill) leaves the
same rows, never duplicates; rows of other days are not touched. On any error
the task runs ROLLBACK and raises the error again.

Needs a postgres connection `warehouse`. Optional Variables: `etl_csv_dir`
(the folder of the CSV, default: data/ beside this file) and `etl_csv_file`
(default trips.csv, which holds 2024-01-01 to 2024-01-03). Times in the CSV
carry their UTC offset.

The task log's "Loading" line names the interval of the run. A backfill
gives each logical date its own day; `airflow dags test etl_incremental DATE`
covers the day of DATE on Airflow 2.5, but the day before DATE on 2.10 and 3.
"""
import csv
import logging
import os
from contextlib import closing
from datetime import datetime

import pendulum
from airflow.providers.postgres.hooks.postgres import PostgresHook

try:  # Airflow 3: the Task SDK
    from airflow.sdk import DAG, Variable, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable

try:  # Airflow 3 releases whose Task SDK has the timetables
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2 and older 3.x
    from airflow.timetables.interval import CronDataIntervalTimetable

log = logging.getLogger(__name__)

TABLE = "public.trips_incremental"
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
# The same rule as the filter in Python: start inclusive, end exclusive, so
# a trip at midnight belongs to exactly one day.
DELETE_SQL = f"DELETE FROM {TABLE} WHERE started_at >= %s AND started_at < %s"
# The casts make PostgreSQL check every number: a bad one stops the load at
# that row.
INSERT_SQL = f"""
INSERT INTO {TABLE} (trip_id, started_at, city, distance_km, fare)
VALUES (%s::integer, %s, %s, %s::numeric, %s::numeric)"""


def read_interval(path, start, end):
    """Return (line number, values) for the lines with start <= started_at < end."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            started_at = datetime.fromisoformat(row["started_at"])
            if started_at.tzinfo is None:
                # A time without offset would mean another day on a server
                # in another time zone.
                raise ValueError(f"{path} line {reader.line_num}: no UTC offset in started_at")
            if start <= started_at < end:
                values = (row["trip_id"], started_at, row["city"], row["distance_km"], row["fare"])
                rows.append((reader.line_num, values))
    return rows


with DAG(
    dag_id="etl_incremental",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    # "@daily" with data intervals (midnight to midnight UTC). A plain
    # schedule="@daily" gets runs without an interval on Airflow 3, where
    # [scheduler] create_cron_data_intervals is False by default.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    catchup=False,
    tags=["example", "etl"],
    doc_md=__doc__,
) as dag:

    @task
    def load_interval(**context):
        start = context["data_interval_start"]
        end = context["data_interval_end"]
        if start is None or end is None or start == end:
            raise ValueError(f"No data interval ({start} to {end}): run it with a logical date")

        csv_dir = Variable.get("etl_csv_dir", DEFAULT_CSV_DIR)
        path = os.path.join(csv_dir, Variable.get("etl_csv_file", "trips.csv"))
        rows = read_interval(path, start, end)
        log.info("Loading %d rows with %s <= started_at < %s from %s", len(rows), start, end, path)

        conn = PostgresHook(postgres_conn_id="warehouse").get_conn()
        # With autocommit on, only the BEGIN/COMMIT/ROLLBACK below group
        # statements into a transaction.
        conn.autocommit = True
        with closing(conn), closing(conn.cursor()) as cur:
            line = None
            try:
                cur.execute("BEGIN")
                # A backfill runs its days at once: without the lock they
                # race on CREATE TABLE (a unique violation in pg_type) and
                # one day's run fails. Loads of this table take turns.
                cur.execute(LOCK_SQL, (TABLE,))
                cur.execute(CREATE_SQL)
                # Delete only this interval: a re-run replaces its own rows.
                cur.execute(DELETE_SQL, (start, end))
                for line, values in rows:
                    cur.execute(INSERT_SQL, values)
                cur.execute("COMMIT")
            except Exception:
                # The interval keeps the rows it had before this run.
                cur.execute("ROLLBACK")
                log.error("Rolled back: the load failed at %s line %s", path, line)
                raise
            cur.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE started_at >= %s AND started_at < %s",
                        (start, end))
            count = cur.fetchone()[0]
        log.info("%s holds %d rows for this interval", TABLE, count)
        return count

    load_interval()
