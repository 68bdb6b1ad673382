"""What the roles ask Airflow, answered by one process as one line of JSON.

Run with the Airflow virtualenv's Python, as the Airflow user, AIRFLOW_HOME
set. Each argument asks one thing; the keys of the JSON are the arguments:

    health=URL     the JSON of the web server's health endpoint at URL, or null
                   while it does not answer
    unhealthy=A,B  after health: those of the blocks A, B... that the JSON
                   names (metadatabase always) and not as healthy, or
                   ["web server"] while it does not answer; when any is,
                   nothing more is asked and Airflow is not started
    schema         true when the database schema is at the installed release;
                   database_error is null then, or, when the database does
                   not answer, why not (one line, no secret) and nothing
                   more is asked
    users          the web users' names ([] before the tables exist)
    db             true when the metadata database answers (after health: true
                   when the JSON reports metadatabase healthy)
    jobs=A,B:b     per job type, whether its newest running job is alive; for
                   a type given with a block (SchedulerJob:scheduler), after
                   health, true when the JSON reports that block healthy
    objects        when the schema is current (asked before it), what
                   airflow_objects.py does with the JSON on standard input:
                   {"changed": [...]} or {"error": "..."}; null otherwise

Starting the Airflow CLI once per question costs seconds each; this imports
Airflow once, and not at all when the health JSON answers every question.
It calls the functions the CLI commands call (db check-migrations, jobs
check), so the answers are the CLI's.
"""
import argparse
import contextlib
import io
import json
import os
import sys


def quietly(function, *args):
    """FUNCTION(*ARGS) with what it prints kept out of the JSON line; True when it returned."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            function(*args)
        except (Exception, SystemExit):  # a failed check is an answer, not an error
            return False
    return True


def health(url):
    import http.client
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError, http.client.HTTPException):  # not up yet, or not the JSON yet
        return None


def unhealthy(blocks, reported):
    # A block the JSON does not name is skipped (Airflow 2 names no
    # dag_processor); a null one is a component that never ran, not healthy.
    if reported is None:
        return ["web server"]
    return [block for block in blocks.split(",")
            if (block == "metadatabase" or block in reported)
            and (reported.get(block) or {}).get("status") != "healthy"]


def release_head():
    """The schema revision of the installed release in Airflow's own table of
    releases and revisions, or None: a release missing there added no
    migration and has the head of the newest release before it, the rule
    Airflow's `db migrate --to-version` follows."""
    try:
        from packaging.version import Version

        import airflow
        from airflow.utils import db as airflow_db

        # Named REVISION_HEADS_MAP before 2.6.
        heads = getattr(airflow_db, "_REVISION_HEADS_MAP", None) or getattr(airflow_db, "REVISION_HEADS_MAP", {})
        installed = Version(airflow.__version__)
        earlier = [release for release in heads if Version(release) <= installed]
        return heads[max(earlier, key=Version)] if earlier else None
    except Exception:  # no such table here: Airflow's check answers
        return None


def other_schemas_current():
    """Airflow 3's check also asks the managers of the schemas beside its own (the FAB provider's)."""
    from airflow.utils import db as airflow_db

    manager = getattr(airflow_db, "RunDBManager", None)
    if manager is None:
        return True
    from airflow import settings

    session = settings.Session()
    try:
        return bool(manager().check_migration(session))
    except Exception:  # not answered here: Airflow's check answers
        return False
    finally:
        session.close()


def column(query):
    """The first column of QUERY's rows; raises what the database raises."""
    from sqlalchemy import text

    from airflow.utils.session import create_session

    with create_session() as session:
        return [row[0] for row in session.execute(text(query))]


def first_column(query):
    """The first column of QUERY's rows, or [] while its table does not exist."""
    try:
        return column(query)
    except Exception:  # no schema (or no FAB tables) yet
        return []


def database_error():
    """None when the metadata database answers; else why not, on one line."""
    try:
        column("SELECT 1")
    except Exception as error:  # refused, no such host or database, a wrong password
        # The driver's message (error.orig) names the host, the port and at
        # times the user, never the password: a line per address the host
        # name resolves to (localhost: ::1, then 127.0.0.1), each with
        # indented hints, which are left out.
        reason = str(getattr(error, "orig", None) or error)
        return "; ".join(line for line in reason.splitlines() if line and not line[0].isspace()) \
            or type(error).__name__
    return None


def schema():
    # Reading the migration scripts for their head costs most of a second;
    # the table answers the usual case. Anything else asks Airflow's check.
    if set(first_column("SELECT version_num FROM alembic_version")) == {release_head()} and other_schemas_current():
        return True
    from airflow.cli.commands import db_command

    return quietly(db_command.check_migrations, argparse.Namespace(migration_wait_timeout=1))


def users():
    return sorted(first_column("SELECT username FROM ab_user"))


def healthy(reported, block):
    """Whether the health JSON REPORTED names BLOCK as healthy (the web server asked the database for it)."""
    return ((reported or {}).get(block) or {}).get("status") == "healthy"


def db(reported):
    if healthy(reported, "metadatabase"):
        return True
    from airflow.utils import db as airflow_db

    return quietly(airflow_db.check)


def job_alive(job_type, block, reported):
    # The health JSON applies the same rule as `airflow jobs check`: the
    # newest running job of the type, its heartbeat recent.
    if block and healthy(reported, block):
        return True
    from airflow.cli.commands import jobs_command

    return quietly(jobs_command.check, argparse.Namespace(
        job_type=job_type, hostname=None, local=False, limit=1, allow_multiple=False))


def jobs(job_types, reported):
    return {job_type: job_alive(job_type, block, reported)
            for job_type, _, block in (item.partition(":") for item in job_types.split(","))}


def objects(schema_current, wanted):
    if not schema_current:
        return None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import airflow_objects

    return airflow_objects.apply(wanted)


def main(questions):
    # Standard input is read before anything else, whatever the schema's
    # state: a writer blocked on an unread pipe would fail the caller.
    wanted = json.load(sys.stdin) if "objects" in questions else None
    answers = {}
    for question in questions:
        name, _, value = question.partition("=")
        if name == "health":
            answers[name] = health(value)
        elif name == "unhealthy":
            answers[name] = unhealthy(value, answers.get("health"))
            if answers[name]:
                break
        elif name == "jobs":
            answers[name] = jobs(value, answers.get("health"))
        elif name == "db":
            answers[name] = db(answers.get("health"))
        elif name == "objects":
            answers[name] = objects(answers.get("schema"), wanted)
        elif name == "schema":
            answers["database_error"] = database_error()
            if answers["database_error"]:
                break
            answers[name] = schema()
        elif name == "users":
            answers[name] = users()
        else:
            raise SystemExit(f"unknown question: {question}")
    print(json.dumps(answers))


if __name__ == "__main__":
    main(sys.argv[1:])
