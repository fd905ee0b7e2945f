#!/usr/bin/python3
"""Browser end to end: a real headless Chromium subscribes to and leaves a `ja` list.

Run with Debian's interpreter (python3-selenium, python3-aiosmtpd), from the repository:

    /usr/bin/python3 Tests/E2E/browser_e2e.py [--screenshots DIR]

The built binary is `.build/debug/listgate` unless LISTGATE_BIN names another. Everything
else lives in a temporary directory: the database, the SMTP sink (Tests/Support/smtp_sink.py,
a real aiosmtpd server) and `listgate serve` on a free port.

The browser opens the hosted subscribe page (served with a Content-Security-Policy that allows
no script; its inline stylesheet must still apply), types a name and an address, submits; the
confirmation mail is read at the SMTP server; the browser opens its link (the address must
still be pending), presses the button and sees the confirmed page. Then it asks for an
unsubscribe link with the hosted form, opens the mailed link, presses the button and sees
the unsubscribed page; the database must say `unsubscribed` and a receipt must arrive.
Then the same on a company's page served from another origin (Python's http.server): the
embedded form (`lists show --embed`) submits and lands on the company's thanks page
(`--thanks-url`); a `fetch()` submit with CORS gets the JSON answer; the same script on an
origin the list does not allow is refused by the browser and records nothing.
With --screenshots, each page is saved there as NN-name.png (`make e2e` uses docs/screenshots).
Exits non-zero, with the reason on stderr, at the first thing that is not as expected.
"""

import argparse
import base64
import email
import email.policy
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("LISTGATE_BIN") or os.path.join(REPO, ".build", "debug", "listgate")
SINK = os.path.join(REPO, "Tests", "Support", "smtp_sink.py")

COMPANY_SLUG = "company"
COMPANY_NAME = "株式会社サンプル ニュースレター"
LIST_SLUG = "news"
LIST_NAME = "週刊お知らせ"
ADDRESS = "hanako.yamada@example.jp"
PERSON = "山田 花子"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listgate(db, *arguments):
    result = subprocess.run([BINARY, *arguments, "--db", db], capture_output=True, text=True)
    check(result.returncode == 0, f"listgate {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def membership(db, address):
    """The address's row on the list from `listgate subscribers find`, or None when it touches
    the list in no way. A request not yet confirmed is a `pending` row with `requested_at`;
    a subscription has no such field."""
    rows = json.loads(listgate(db, "subscribers", "find", address, "--json"))
    rows = [row for row in rows if row["list"] == LIST_SLUG]
    return rows[0] if rows else None


def status_of(db, address):
    row = membership(db, address)
    return row["status"] if row else None


def wait_for(predicate, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise Failure(f"timed out waiting for {what}")


class Mailbox:
    """The SMTP sink's recorded messages, parsed with the standard library's strict policy."""

    def __init__(self, directory):
        self.directory = directory
        self.seen = 0

    def next_message(self, recipient):
        def arrived():
            names = sorted(glob.glob(os.path.join(self.directory, "*.json")))
            return names[self.seen] if len(names) > self.seen else None

        path = wait_for(arrived, f"mail #{self.seen + 1} at the SMTP server")
        self.seen += 1
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
        check(record["rcpt_tos"] == [recipient],
              f"mail went to {record['rcpt_tos']}, expected only {recipient}")
        return email.message_from_bytes(base64.b64decode(record["data_b64"]),
                                        policy=email.policy.default)

    @staticmethod
    def text(message):
        part = message.get_body(preferencelist=("plain",))
        check(part is not None, "the mail has no text/plain part")
        return part.get_content()

    @classmethod
    def link(cls, message, path):
        links = re.findall(r"https?://\S+", cls.text(message))
        matching = [link for link in links if f"/{path}/" in link]
        check(len(matching) == 1, f"expected one /{path}/ link in the mail, found {links}")
        return matching[0]


class Browser:
    def __init__(self, screenshots):
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=640,900", "--lang=ja",
                         "--hide-scrollbars", "--force-device-scale-factor=1"):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": "ja"})
        driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.driver = webdriver.Chrome(service=Service(driver_path), options=options)
        self.driver.set_page_load_timeout(20)
        self.screenshots = screenshots
        self.shots = 0

    def quit(self):
        self.driver.quit()

    def open(self, url):
        self.driver.get(url)

    def expect_heading(self, text):
        def shows_heading(driver):
            return [h1.text for h1 in driver.find_elements(By.TAG_NAME, "h1")] == [text]

        try:
            WebDriverWait(self.driver, 10).until(shows_heading)
        except TimeoutException:
            raise Failure(f"{self.driver.current_url}: expected the heading {text!r}, "
                          f"the page says:\n{self.driver.find_element(By.TAG_NAME, 'body').text}")

    def expect_styled_under_policy(self, url):
        """The page came with a Content-Security-Policy that allows no script, and its inline
        stylesheet still applies (the body's background is the stylesheet's, not white)."""
        with urllib.request.urlopen(url, timeout=5) as response:
            policy = response.headers.get("Content-Security-Policy") or ""
        check("default-src 'none'" in policy and "script-src" not in policy,
              f"{url}: expected a policy without script, got {policy!r}")
        background = self.driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        check(background == "rgb(243, 244, 246)", f"{url}: the inline stylesheet did not apply ({background})")

    def expect_text(self, text):
        body = self.driver.find_element(By.TAG_NAME, "body").text
        check(text in body, f"page {self.driver.current_url} does not say {text!r}:\n{body}")

    def type(self, field, text):
        element = self.driver.find_element(By.NAME, field)
        element.clear()
        element.send_keys(text)

    def press(self, label):
        buttons = [b for b in self.driver.find_elements(By.CSS_SELECTOR, "button[type=submit]")
                   if b.text == label]
        check(len(buttons) == 1, f"expected one button {label!r} on {self.driver.current_url}")
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        buttons[0].click()
        WebDriverWait(self.driver, 10).until(expected_conditions.staleness_of(old_page))

    def screenshot(self, name):
        self.shots += 1
        if not self.screenshots:
            return
        # No caret or focus ring: the same page gives the same picture on every run.
        self.driver.execute_script("document.activeElement && document.activeElement.blur()")
        # Down to just below the footer, however tall the window is.
        bottom = self.driver.execute_script(
            "return Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom)"
            " + window.scrollY + 24")
        width = self.driver.execute_script("return document.documentElement.clientWidth")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": bottom, "scale": 1}})
        path = os.path.join(self.screenshots, "%02d-%s.png" % (self.shots, name))
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))


def start_sink(work, children):
    ready = os.path.join(work, "sink.ready")
    messages = os.path.join(work, "mail")
    process = subprocess.Popen(["/usr/bin/python3", SINK, "--port", "0", "--dir", messages,
                                "--ready-file", ready])
    children.append(process)
    wait_for(lambda: os.path.exists(ready) or process.poll() is not None, "the SMTP sink")
    check(process.poll() is None, "the SMTP sink did not start (is python3-aiosmtpd installed?)")
    with open(ready, encoding="ascii") as handle:
        return int(handle.read()), messages


def start_server(work, db, smtp_port, children):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LISTGATE_")}
    environment["LISTGATE_BASE_URL"] = base
    log = open(os.path.join(work, "serve.log"), "wb")
    process = subprocess.Popen([BINARY, "serve", "--db", db, "--port", str(port),
                                "--smtp-url", f"smtp://127.0.0.1:{smtp_port}"],
                               env=environment, stdout=log, stderr=subprocess.STDOUT)
    children.append(process)

    def healthy():
        check(process.poll() is None, "listgate serve exited; see serve.log")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(healthy, "listgate serve to answer /healthz")
    return base


def run(work, screenshots):
    check(os.access(BINARY, os.X_OK), f"no listgate binary at {BINARY} (swift build, or set LISTGATE_BIN)")
    db = os.path.join(work, "listgate.sqlite3")
    listgate(db, "migrate")
    listgate(db, "lists", "create", LIST_SLUG, "--name", LIST_NAME,
             "--from", "編集部 <news@example.org>", "--locale", "ja")
    children = []
    browser = None
    try:
        smtp_port, messages = start_sink(work, children)
        base = start_server(work, db, smtp_port, children)
        mailbox = Mailbox(messages)
        browser = Browser(screenshots)

        # Subscribe: the hosted page, in the list's language.
        browser.open(f"{base}/lists/{LIST_SLUG}/subscribe")
        browser.expect_heading(f"「{LIST_NAME}」への登録")
        browser.expect_styled_under_policy(f"{base}/lists/{LIST_SLUG}/subscribe")
        browser.type("email", ADDRESS)
        browser.type("name", PERSON)
        browser.screenshot("subscribe")
        browser.press("登録する")
        browser.expect_heading("確認メールをお送りしました")
        browser.screenshot("check-inbox")
        request = membership(db, ADDRESS)
        check(request is not None and request["status"] == "pending" and "requested_at" in request,
              f"a subscribe post must leave a pending request only, not a subscription; find says {request}")

        confirmation = mailbox.next_message(ADDRESS)
        check(LIST_NAME in confirmation["Subject"], f"confirmation subject: {confirmation['Subject']}")
        confirm_link = Mailbox.link(confirmation, "confirm")
        check(confirm_link.startswith(base + "/confirm/"), f"confirm link {confirm_link} is not ours")

        # Opening the link (what a link scanner does) confirms nothing; the button does.
        browser.open(confirm_link)
        browser.expect_heading("登録の確定")
        browser.screenshot("confirm")
        check(status_of(db, ADDRESS) == "pending", "opening the confirm link must change nothing")
        browser.press("登録を確定する")
        browser.expect_heading("登録が完了しました")
        browser.expect_text(f"「{LIST_NAME}」にご登録いただき")
        browser.screenshot("confirmed")
        member = membership(db, ADDRESS)
        check(member is not None and member["status"] == "active" and member["name"] == PERSON,
              f"pressing confirm must make the address active with its name, got {member}")

        # Leave: ask for a link by address, open the mailed link, press the button.
        browser.open(f"{base}/lists/{LIST_SLUG}/unsubscribe")
        browser.expect_heading(f"「{LIST_NAME}」の配信停止")
        browser.type("email", ADDRESS)
        browser.screenshot("unsubscribe-request")
        browser.press("配信停止のリンクを受け取る")
        browser.expect_heading("メールをご確認ください")
        browser.screenshot("unsubscribe-link-sent")

        link_mail = mailbox.next_message(ADDRESS)
        unsubscribe_link = Mailbox.link(link_mail, "unsubscribe")
        check(unsubscribe_link.startswith(base + "/unsubscribe/"),
              f"unsubscribe link {unsubscribe_link} is not ours")
        browser.open(unsubscribe_link)
        browser.expect_heading("配信停止")
        browser.screenshot("unsubscribe")
        check(status_of(db, ADDRESS) == "active", "opening the unsubscribe link must change nothing")
        browser.press("配信を停止する")
        browser.expect_heading("配信を停止しました")
        browser.expect_text(f"「{LIST_NAME}」の配信を停止しました")
        browser.screenshot("unsubscribed")
        check(status_of(db, ADDRESS) == "unsubscribed", "pressing unsubscribe must unsubscribe")

        receipt = mailbox.next_message(ADDRESS)
        check(f"「{LIST_NAME}」の配信を停止しました" in Mailbox.text(receipt),
              "the third mail must be the unsubscribe receipt")

        run_company_site(work, db, base, mailbox, browser, children)

        time.sleep(0.5)
        extra = sorted(glob.glob(os.path.join(messages, "*.json")))[mailbox.seen:]
        check(not extra, f"unexpected extra mail: {extra}")
    finally:
        if browser:
            browser.quit()
        for child in reversed(children):
            child.terminate()
            child.wait(10)
    return browser.shots


COMPANY_FETCH_PAGE = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>ニュースレター（バックグラウンド送信）</title></head>
<body>
<h1>ニュースレターのご案内</h1>
<input id="email" name="email" type="email" aria-label="メールアドレス">
<button id="send" type="button">申し込む</button>
<p id="answer"></p>
<script>
document.getElementById("send").addEventListener("click", async () => {
  const answer = document.getElementById("answer");
  try {
    const response = await fetch("ACTION", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({email: document.getElementById("email").value}),
    });
    const body = await response.json();
    answer.textContent = response.status + " " + body.status;
  } catch (error) {
    answer.textContent = "blocked";
  }
});
</script>
</body></html>
"""


def run_company_site(work, db, base, mailbox, browser, children):
    """The company's own site on another origin: the embedded form and a fetch() submit."""
    site_port = free_port()
    site = f"http://127.0.0.1:{site_port}"
    listgate(db, "lists", "create", COMPANY_SLUG, "--name", COMPANY_NAME,
             "--from", "株式会社サンプル <news@example.co.jp>", "--locale", "ja",
             "--allow-origin", site, "--thanks-url", f"{site}/thanks.html",
             "--privacy-url", f"{site}/privacy.html")
    snippet = subprocess.run([BINARY, "lists", "show", COMPANY_SLUG, "--embed", "--base-url", base, "--db", db],
                             capture_output=True, text=True, check=True).stdout
    root = os.path.join(work, "company-site")
    os.makedirs(root)
    pages = {
        "index.html": "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
                      "<title>株式会社サンプル</title></head><body><h1>株式会社サンプル</h1>"
                      f"{snippet}</body></html>",
        "thanks.html": "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
                       "<title>ありがとうございます</title></head><body><h1>お申し込みありがとうございます</h1></body></html>",
        "fetch.html": COMPANY_FETCH_PAGE.replace("ACTION", f"{base}/lists/{COMPANY_SLUG}/subscribe"),
    }
    for name, html in pages.items():
        with open(os.path.join(root, name), "w", encoding="utf-8") as handle:
            handle.write(html)
    server = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", str(site_port), "--bind", "127.0.0.1",
                               "--directory", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(server)

    def serving():
        try:
            with urllib.request.urlopen(f"{site}/thanks.html", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(serving, "the company's site")

    # The embedded form: posts across origins, lands on the company's thanks page.
    embedded = "taro.suzuki@example.jp"
    browser.open(f"{site}/index.html")
    browser.expect_heading("株式会社サンプル")
    browser.type("email", embedded)
    browser.press("登録する")
    browser.expect_heading("お申し込みありがとうございます")
    check(browser.driver.current_url == f"{site}/thanks.html",
          f"the embedded form should end on the company's thanks page, not {browser.driver.current_url}")
    mail = mailbox.next_message(embedded)
    check(COMPANY_NAME in mail["Subject"], f"confirmation subject: {mail['Subject']}")

    # fetch() from the allowed origin: a CORS preflight, then the JSON answer the script reads.
    fetched = "jiro.sato@example.jp"
    answer = send_by_fetch(browser, f"{site}/fetch.html", fetched)
    check(answer == "202 pending", f"the fetch() submit should read 202 pending, read {answer!r}")
    mailbox.next_message(fetched)

    # The same script on an origin the list does not name: the browser refuses, nothing is recorded.
    stranger = "stranger@example.jp"
    answer = send_by_fetch(browser, f"http://localhost:{site_port}/fetch.html", stranger)
    check(answer == "blocked", f"a fetch() from another origin must be refused, read {answer!r}")
    time.sleep(0.5)
    row = json.loads(listgate(db, "subscribers", "find", stranger, "--json"))
    check(not row, f"a refused origin must record nothing, found {row}")


def send_by_fetch(browser, page, address):
    browser.open(page)
    browser.expect_heading("ニュースレターのご案内")
    browser.type("email", address)
    browser.driver.find_element(By.ID, "send").click()
    return wait_for(lambda: browser.driver.find_element(By.ID, "answer").text, f"the fetch() answer on {page}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", help="directory for NN-name.png of every page")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    arguments = parser.parse_args()
    screenshots = os.path.abspath(arguments.screenshots) if arguments.screenshots else None
    if screenshots:
        os.makedirs(screenshots, exist_ok=True)
        for old in glob.glob(os.path.join(screenshots, "[0-9][0-9]-*.png")):
            os.remove(old)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="listgate-e2e-")
    try:
        pages = run(work, screenshots)
    except (Failure, WebDriverException) as failure:
        print(f"browser e2e: FAILED: {failure}", file=sys.stderr)
        print(f"browser e2e: the server's log is in {work}/serve.log", file=sys.stderr)
        arguments.keep = True
        return 1
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)
    where = f", screenshots in {arguments.screenshots}" if screenshots else ""
    print(f"browser e2e: subscribed, confirmed and unsubscribed through {pages} pages; from a company's "
          f"page by its embedded form and by fetch() with CORS, and refused from another origin; "
          f"in {time.monotonic() - started:.1f} s{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
