"""What the roles ask Airflow, answered by one process as one line of JSON.

Run with the Airflow virtualenv's Python, as the Airflow user, AIRFLOW_HOME
set. Each argument asks one thing; the keys of the JSON are the arguments:

    schema         true when the database schema is at the installed release
                   (false also when the database cannot be read)
    users          the web users' names ([] before the tables exist)
    db             true when the metadata database answers
    jobs=A,B       per job type, whether its newest running job is alive

Starting the Airflow CLI once per question costs seconds each; this imports
Airflow once. It calls the functions the CLI commands call (db
check-migrations, jobs check), so the answers are the CLI's.
"""
import argparse
import contextlib
import io
import json
import sys


def quietly(function, *args):
    """FUNCTION(*ARGS) with what it prints kept out of the JSON line; True when it returned."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            function(*args)
        except (Exception, SystemExit):  # a failed check is an answer, not an error
            return False
    return True


def schema():
    from airflow.cli.commands import db_command

    return quietly(db_command.check_migrations, argparse.Namespace(migration_wait_timeout=1))


def users():
    from sqlalchemy import text

    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            return sorted(row[0] for row in session.execute(text("SELECT username FROM ab_user")))
    except Exception:  # no FAB tables yet
        return []


def db():
    from airflow.utils import db as airflow_db

    return quietly(airflow_db.check)


def jobs(job_types):
    from airflow.cli.commands import jobs_command

    return {
        job_type: quietly(jobs_command.check, argparse.Namespace(
            job_type=job_type, hostname=None, local=False, limit=1, allow_multiple=False))
        for job_type in job_types.split(",")
    }


def main(questions):
    answers = {}
    for question in questions:
        name, _, value = question.partition("=")
        answers[name] = {"schema": schema, "users": users, "db": db}[name]() if name != "jobs" else jobs(value)
    print(json.dumps(answers))


if __name__ == "__main__":
    main(sys.argv[1:])
