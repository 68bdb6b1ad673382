"""Prints a task's log as the web server serves it, logged in as the admin:
DAG_ID RUN_ID TASK_ID; WEB_USER and WEB_PASSWORD in the environment."""
import json
import os
import re
import sys

import requests

BASE = "http://127.0.0.1:8080"
dag_id, run_id, task_id = sys.argv[1:4]
user, password = os.environ["WEB_USER"], os.environ["WEB_PASSWORD"]
session = requests.Session()
token = session.post(f"{BASE}/auth/token", json={"username": user, "password": password}, timeout=30)
if token.status_code == 201:  # Airflow 3: a bearer token
    session.headers["Authorization"] = "Bearer " + token.json()["access_token"]
    log = session.get(f"{BASE}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1",
                      headers={"Accept": "application/json"}, timeout=60)
    log.raise_for_status()
    print("\n".join(json.dumps(line) for line in log.json()["content"]))
else:  # Airflow 2: the login form, then the session
    page = session.get(f"{BASE}/login/", timeout=30).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    session.post(f"{BASE}/login/", data={"username": user, "password": password, "csrf_token": csrf}, timeout=30)
    log = session.get(f"{BASE}/api/v1/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1",
                      headers={"Accept": "text/plain"}, timeout=60)
    log.raise_for_status()
    print(log.text)
