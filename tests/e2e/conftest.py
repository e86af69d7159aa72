"""Real-browser fixtures: Debian's Chromium driven by Selenium against pytest-django's live server.

Skipped, with the reason, when /usr/bin/chromium or /usr/bin/chromedriver is missing (`.ci/run`
installs both). Each test saves screenshots under test-artifacts/e2e/ (git-ignored).
"""

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "real-browser tests need Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver; .ci/run installs them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="session")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(5)
    yield browser
    browser.quit()


class Browser:
    """A thin page driver: open admin paths, log in, fill forms, save screenshots."""

    def __init__(self, driver, base_url: str, name: str):
        self.driver = driver
        self.base_url = base_url
        self.name = name
        self.shots = 0

    def open(self, path: str):
        self.driver.get(self.base_url + path)

    def login(self, username: str, password: str):
        self.driver.delete_all_cookies()
        self.open("/admin/login/")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        self.find("#user-tools")  # waits for the logged-in page: opening another before would cancel the login

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click_to_load(self, css: str):
        """Click what loads a new page and wait for it: reading the old page meanwhile would race."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        self.find(css).click()
        WebDriverWait(self.driver, 15).until(expected_conditions.staleness_of(page))

    def scroll_to(self, element):
        self.driver.execute_script("arguments[0].scrollIntoView();", element)
        return element

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def screenshot(self, label: str) -> Path:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture
def browser(driver, live_server, request):
    return Browser(driver, live_server.url, request.node.name)
