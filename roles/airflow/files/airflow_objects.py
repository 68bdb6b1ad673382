"""Bring Airflow's connections, variables and pools to what the inventory declares.

Run with the Airflow virtualenv's Python, as the Airflow user, AIRFLOW_HOME
set. Reads one JSON document on standard input (passwords never go through
argv or the environment):

    {"connections": [{"conn_id": ..., "conn_type": ..., "host": ..., "port": ...,
                      "schema": ..., "login": ..., "password": ..., "extra": ...,
                      "state": "present" | "absent"}],
     "variables": {"key": value},          # a dict or list value is stored as JSON
     "variables_absent": ["key"],
     "pools": [{"name": ..., "slots": ..., "description": ..., "state": ...}],
     "check": false}

and prints one JSON line: {"changed": ["connection warehouse", ...]} or
{"error": "..."}, neither holding a secret. What the input does not name
(a connection made in the UI, say) is left alone. With "check" nothing is
written. One Python start for everything, where the CLI takes one per item;
the state probe (airflow_state.py) calls apply() in its own start.
"""
import json
import sys

SECRET = "********"


def as_text(value):
    """A variable's or extra's stored text: dicts and lists as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def same_json(stored, wanted):
    """Whether two extras say the same (JSON compared as data, else as text)."""
    try:
        return json.loads(stored or "{}") == json.loads(wanted or "{}")
    except ValueError:
        return (stored or "") == (wanted or "")


def removed(session, item, existing, label, changed):
    """Whether ITEM asks for state absent; removes EXISTING if there is one."""
    if item.get("state", "present") != "absent":
        return False
    if existing is not None:
        session.delete(existing)
        changed.append(f"{label} removed")
    return True


def connections(session, items, changed):
    from airflow.models import Connection

    for item in items:
        conn_id = item["conn_id"]
        existing = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
        if removed(session, item, existing, f"connection {conn_id}", changed):
            continue
        wanted = {
            "conn_type": item["conn_type"],
            "host": item.get("host") or None,
            "schema": item.get("schema") or None,
            "login": item.get("login") or None,
            "password": item.get("password") or None,
            "port": int(item["port"]) if item.get("port") not in (None, "") else None,
            "extra": as_text(item.get("extra")) or None,
        }
        if existing is None:
            session.add(Connection(conn_id=conn_id, **wanted))
            changed.append(f"connection {conn_id} created")
            continue
        differs = [name for name, value in wanted.items()
                   if not (same_json(existing.extra, value) if name == "extra" else getattr(existing, name) == value)]
        for name in differs:
            setattr(existing, name, wanted[name])
        if differs:
            changed.append(f"connection {conn_id} ({', '.join(differs)})")


def variables(session, values, absent, changed):
    from airflow.models import Variable

    for key, value in values.items():
        text = as_text(value)
        existing = session.query(Variable).filter(Variable.key == key).one_or_none()
        if existing is None:
            variable = Variable(key=key)
            variable.set_val(text)
            session.add(variable)
            changed.append(f"variable {key} created")
        elif existing.get_val() != text:
            existing.set_val(text)
            changed.append(f"variable {key}")
    for key in absent:
        existing = session.query(Variable).filter(Variable.key == key).one_or_none()
        if existing is not None:
            session.delete(existing)
            changed.append(f"variable {key} removed")


def pools(session, items, changed):
    from airflow.models import Pool

    for item in items:
        name = item["name"]
        existing = session.query(Pool).filter(Pool.pool == name).one_or_none()
        if removed(session, item, existing, f"pool {name}", changed):
            continue
        slots, description = int(item["slots"]), item.get("description") or ""
        if existing is None:
            # 2.7 and later also ask whether deferred tasks take a slot.
            deferred = {"include_deferred": False} if hasattr(Pool, "include_deferred") else {}
            session.add(Pool(pool=name, slots=slots, description=description, **deferred))
            changed.append(f"pool {name} created")
        elif (existing.slots, existing.description or "") != (slots, description):
            existing.slots, existing.description = slots, description
            changed.append(f"pool {name}")


def secrets_of(wanted):
    """Every value that must not show in an error message."""
    values = [item.get("password") for item in wanted.get("connections", [])]
    values += [as_text(item.get("extra")) for item in wanted.get("connections", [])]
    values += [as_text(value) for value in wanted.get("variables", {}).values()]
    return sorted((value for value in values if value and len(value) >= 4), key=len, reverse=True)


def apply(wanted):
    """WANTED applied in one transaction: {"changed": [...]}, or {"error": "..."} with nothing written."""
    changed = []
    try:
        from airflow import settings

        session = settings.Session()
        try:
            connections(session, wanted.get("connections", []), changed)
            variables(session, wanted.get("variables", {}), wanted.get("variables_absent", []), changed)
            pools(session, wanted.get("pools", []), changed)
            if wanted.get("check"):
                session.rollback()
            else:
                session.commit()
        finally:
            session.close()
    except Exception as error:  # reported as JSON; the caller fails with it
        message = f"{type(error).__name__}: {error}"
        for secret in secrets_of(wanted):
            message = message.replace(secret, SECRET)
        return {"error": message}
    return {"changed": changed}


def main():
    answer = apply(json.load(sys.stdin))
    print(json.dumps(answer))
    sys.exit(1 if "error" in answer else 0)


if __name__ == "__main__":
    main()
