"""Log in to the Airflow UI with headless Chromium, open the DAG list and save a screenshot.

    browser_login.py BASE_URL DAGS_PATH CERTIFICATE PASSWORD_FILE SCREENSHOT

Chromium accepts the server only if its key is the one in CERTIFICATE (the
generated certificate's key, pinned by its SPKI hash). Prints JSON: the page
it ended on, its title, whether the DAG list shows dag_v1 and whether the
session cookie is marked Secure.
"""
import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def spki_hash(certificate_path):
    with open(certificate_path, "rb") as pem:
        public_key = x509.load_pem_x509_certificate(pem.read()).public_key()
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def main(base_url, dags_path, certificate, password_file, screenshot):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                     f"--ignore-certificate-errors-spki-list={spki_hash(certificate)}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, 90)
        driver.get(base_url + dags_path)
        wait.until(lambda d: d.find_elements(By.NAME, "username"))
        driver.find_element(By.NAME, "username").send_keys("admin")
        with open(password_file) as secret:
            driver.find_element(By.NAME, "password").send_keys(secret.read().strip())
        driver.find_element(By.NAME, "password").submit()
        wait.until(lambda d: not d.find_elements(By.NAME, "password"))
        driver.get(base_url + dags_path)
        try:
            wait.until(lambda d: "dag_v1" in d.page_source)
        finally:
            driver.save_screenshot(screenshot)
        cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
        print(json.dumps({
            "url": driver.current_url,
            "title": driver.title,
            "shows_dag_v1": "dag_v1" in driver.page_source,
            "session_cookie_secure": cookies.get("session", {}).get("secure", False),
        }))
    finally:
        driver.quit()


if __name__ == "__main__":
    main(*sys.argv[1:])
