#!/usr/bin/python
"""Tell which login roles, databases and schema grants still need the community.postgresql modules."""

DOCUMENTATION = r"""
module: postgresql_pending
short_description: Tell which login roles, databases and schema grants differ from what the postgresql role wants
description:
  - Reads the server over its Unix socket, as the user the task becomes
    (postgres): one connection, and one more per database for its grant.
    Answers which entries of O(databases) still need
    C(community.postgresql.postgresql_user), C(postgresql_db) or
    C(postgresql_privs). The role runs those modules for these entries alone:
    each costs a round trip and a connection per entry even when nothing
    changes.
  - Changes nothing. What it cannot judge counts as pending, so that the
    community module decides: no connection, a password hash that is not
    SCRAM-SHA-256, a password beyond printable ASCII (the server normalises
    such passwords first).
  - A role is done when it exists and its SCRAM-SHA-256 verifier was made from
    its password; a database when it exists, in UTF8, owned by its role; a
    grant when the ACL of the database's schema public holds CREATE and USAGE
    for the role, granted by the schema's owner (as a superuser's GRANT
    records them).
options:
  databases:
    description: The databases, each with its login role.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {type: str, required: true, description: The database.}
      user: {type: str, required: true, description: Its login role, the owner.}
      password: {type: str, required: true, no_log: true, description: The role's password.}
  socket:
    description: The directory of the server's Unix socket.
    type: path
    default: /var/run/postgresql
"""

RETURN = r"""
roles:
  description: The login roles to create or give their password.
  type: list
  elements: str
  returned: always
databases:
  description: The databases to create or give their owner.
  type: list
  elements: str
  returned: always
grants:
  description: The databases whose schema public lacks the grant to their role.
  type: list
  elements: str
  returned: always
error:
  description: Why the server could not be read (then everything is pending); empty otherwise.
  type: str
  returned: always
"""

import base64
import contextlib
import hashlib
import hmac
import re

from ansible.module_utils.basic import AnsibleModule

SCRAM = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")

SCHEMA_GRANT = """
SELECT count(DISTINCT acl.privilege_type)
FROM pg_namespace AS schema, aclexplode(schema.nspacl) AS acl, pg_roles AS role
WHERE schema.nspname = 'public' AND role.rolname = %s AND acl.grantee = role.oid
  AND acl.grantor = schema.nspowner AND acl.privilege_type IN ('CREATE', 'USAGE')
"""


def scram_matches(verifier, password):
    """Whether VERIFIER (pg_authid.rolpassword) was made from PASSWORD (RFC 5802, RFC 7677)."""
    match = SCRAM.match(verifier or "")
    if not match or not all(" " <= character <= "~" for character in password):
        return False
    iterations, salt, stored_key, server_key = match.groups()
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))
            and hmac.compare_digest(hmac.new(salted, b"Server Key", hashlib.sha256).digest(),
                                    base64.b64decode(server_key)))


def pending(psycopg2, socket, databases):
    """The roles, databases and grants that are not yet as DATABASES say."""
    users = sorted({entry["user"] for entry in databases})
    names = [entry["name"] for entry in databases]
    with contextlib.closing(psycopg2.connect(host=socket, dbname="postgres", connect_timeout=10)) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", (users,))
            verifiers = dict(cursor.fetchall())
            cursor.execute("SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding) "
                           "FROM pg_database WHERE datname = ANY(%s)", (names,))
            existing = {name: (owner, encoding) for name, owner, encoding in cursor.fetchall()}
    roles = [user for user in users
             if not all(scram_matches(verifiers.get(user), entry["password"])
                        for entry in databases if entry["user"] == user)]
    owned = [entry["name"] for entry in databases if existing.get(entry["name"]) != (entry["user"], "UTF8")]
    grants = [entry["name"] for entry in databases
              if entry["name"] in owned or not granted(psycopg2, socket, entry["name"], entry["user"])]
    return roles, owned, grants


def granted(psycopg2, socket, database, user):
    with contextlib.closing(psycopg2.connect(host=socket, dbname=database, connect_timeout=10)) as connection:
        with connection.cursor() as cursor:
            cursor.execute(SCHEMA_GRANT, (user,))
            return cursor.fetchone()[0] == 2


def main():
    module = AnsibleModule(
        argument_spec=dict(
            databases=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                user=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True))),
            socket=dict(type="path", default="/var/run/postgresql"),
        ),
        supports_check_mode=True,
    )
    databases = module.params["databases"]
    try:
        import psycopg2
        roles, owned, grants = pending(psycopg2, module.params["socket"], databases)
        error = ""
    except Exception as failure:  # every entry is then left to the community modules
        names = [entry["name"] for entry in databases]
        roles, owned, grants = sorted({entry["user"] for entry in databases}), names, names
        error = " ".join(str(failure).split())
        # The server was started before this runs; in check mode on a new
        # host there may be none yet.
        if not module.check_mode:
            module.warn("PostgreSQL could not be read, so every role, database and grant is left to the "
                        "community.postgresql modules: %s" % error)
    module.exit_json(changed=False, roles=roles, databases=owned, grants=grants, error=error)


if __name__ == "__main__":
    main()
