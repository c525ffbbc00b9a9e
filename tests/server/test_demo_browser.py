"""The demo page in a real browser: Debian's headless Chromium, driven by selenium, against the
live server. It speaks, the clock advances, each word lights up in order; refusals are shown.

Needs `apt-get install chromium chromium-driver` (the README's test command and CI install them;
no browser is downloaded at test time). The screenshot is left at test-artifacts/demo.png.
"""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.live import ServerFailed, free_port, live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOT = ARTIFACTS / "demo.png"
ERROR_SCREENSHOT = ARTIFACTS / "demo-error.png"
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",  # a container's /dev/shm is often 64 MB
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1000,900",
)
# 21 words in two sentences: the server sends the first as soon as it is synthesised, and the page
# plays it while the second is synthesised
SENTENCE = (
    "Every morning the old baker opens his small shop. He sells warm bread and sweet rolls to the whole quiet village."
)
WORDS = re.findall(r"\w+", SENTENCE)
PLAYBACK_TIMEOUT_S = 120
POLL_S = 0.05
# what the page shows: the seconds heard, the lit word's index and text, the status, whether the
# total duration (known from the stream's last event) is shown yet
STATE_SCRIPT = """
const lit = document.querySelector("#transcript .word.active");
return [
  Number(document.getElementById("played").textContent),
  lit ? Number(lit.dataset.index) : null,
  lit ? lit.textContent : null,
  document.getElementById("status").textContent,
  !document.getElementById("duration-part").hidden,
];
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"no {CHROMIUM} or {CHROMEDRIVER}: apt-get install chromium chromium-driver (CI installs them)",
    ),
]


@dataclass(frozen=True)
class PageState:
    heard_s: float
    lit_index: int | None
    lit_word: str | None
    status: str
    duration_known: bool


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def demo(browser: WebDriver, server: str) -> WebDriver:
    """The page, loaded, with its voices in the picker."""
    browser.get(f"{server}/tts/demo")
    WebDriverWait(browser, 30).until(lambda driver: driver.find_element(By.ID, "speak").is_enabled())
    return browser


def state(driver: WebDriver) -> PageState:
    return PageState(*driver.execute_script(STATE_SCRIPT))


def enter(driver: WebDriver, text: str, audio_format: str = "wav") -> None:
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    Select(driver.find_element(By.ID, "format")).select_by_value(audio_format)


def watch_playback(driver: WebDriver, screenshot: Path | None) -> list[PageState]:
    """Polls the page until it says Done; takes the screenshot once a few words have been lit."""
    states = []
    deadline = time.monotonic() + PLAYBACK_TIMEOUT_S
    while time.monotonic() < deadline:
        states.append(state(driver))
        if screenshot and states[-1].lit_index is not None and states[-1].lit_index >= 3:
            ARTIFACTS.mkdir(exist_ok=True)
            driver.save_screenshot(str(screenshot))
            print(f"\ndemo page screenshot: {screenshot}")
            screenshot = None
        if states[-1].status in ("Done", "Failed"):
            return states
        time.sleep(POLL_S)
    pytest.fail(f"playback did not end in {PLAYBACK_TIMEOUT_S} s; last state {states[-1]}")


@pytest.mark.parametrize("audio_format", ["wav", "pcm", "mp3"])
def test_speaks_and_lights_each_word_in_order(demo, audio_format):
    enter(demo, SENTENCE, audio_format)
    assert Select(demo.find_element(By.ID, "voice")).first_selected_option.get_attribute("value") == "af_heart"
    demo.find_element(By.ID, "speak").click()
    states = watch_playback(demo, SCREENSHOT if audio_format == "wav" else None)

    assert states[-1].status == "Done", demo.find_element(By.ID, "error").text
    assert demo.find_element(By.ID, "error").is_displayed() is False
    # the user's own text, every word of it wrapped to be lit
    assert demo.find_element(By.ID, "transcript").text == SENTENCE
    assert [word.text for word in demo.find_elements(By.CSS_SELECTOR, "#transcript .word")] == WORDS

    heard = [s.heard_s for s in states]
    duration_s = float(demo.find_element(By.ID, "duration").text)
    assert heard == sorted(heard), "the clock went back"
    assert len(set(heard)) > 20 and duration_s > 4.0
    assert heard[-1] >= duration_s - 0.1, f"stopped at {heard[-1]} s of {duration_s} s"

    lit = [(s.lit_index, s.lit_word) for s in states if s.lit_index is not None]
    order = [index for i, (index, _) in enumerate(lit) if i == 0 or index != lit[i - 1][0]]
    assert order == sorted(set(order)), f"the light went back: {order}"
    assert len(order) >= 3
    assert all(word == WORDS[index] for index, word in lit), "a lit word is not the one at its place in the text"
    if audio_format in ("wav", "pcm"):
        # played as the stream arrives: heard before the stream's last event gave the duration
        assert any(s.heard_s > 0 and not s.duration_known for s in states)
    if audio_format == "wav":
        assert SCREENSHOT.stat().st_size > 10_000


def test_a_refused_request_shows_the_servers_message(demo):
    enter(demo, "")
    demo.find_element(By.ID, "speak").click()
    WebDriverWait(demo, 30).until(lambda driver: driver.find_element(By.ID, "error").is_displayed())
    message = demo.find_element(By.ID, "error").text
    assert message.startswith("The server refused the request (HTTP 400): 'text'"), message
    assert demo.find_element(By.ID, "status").text == "Failed"
    ARTIFACTS.mkdir(exist_ok=True)
    demo.save_screenshot(str(ERROR_SCREENSHOT))


#: the admission deadline of the server that shows a 429, in seconds (the capacity at 45 characters
#: per second, the rate assumed at start: 225 characters)
TIGHT_DEADLINE_S = 5


def requests_in_flight(server: str) -> float:
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(r"^tts_requests_in_flight\{[^}]*\} (\S+)$", metrics, re.M))


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory) -> Iterator[str]:
    """A second live server that takes on at most 5 s of work: a 2,000-character text fills it.

    It has a BENTOML_HOME of its own: BentoML empties its home's Prometheus directory as it starts,
    which would wipe the metrics of the session's server beside it."""
    folder = tmp_path_factory.mktemp("tight-server")
    env = {"TTS_ADMISSION_DEADLINE_S": str(TIGHT_DEADLINE_S), "BENTOML_HOME": str(folder / "bentoml")}
    try:
        with live_server(free_port(), folder / "serve.log", env=env) as base:
            yield base
    except ServerFailed as exc:
        pytest.fail(str(exc))


def test_a_busy_server_says_when_to_try_again(browser, tight_server):
    """A real 429: one long request holds more work than the server finishes within its deadline,
    and the page's is refused at once."""
    text = ("The server is kept full by this long text, clause after clause. " * 40)[:2_000]
    body = {"text": text, "voice": "af_heart", "format": "pcm"}
    holder = requests.post(f"{tight_server}/tts/stream", json=body, stream=True, timeout=300)
    try:
        assert holder.status_code == 200
        demo = browser
        demo.get(f"{tight_server}/tts/demo")
        WebDriverWait(demo, 30).until(lambda driver: driver.find_element(By.ID, "speak").is_enabled())
        enter(demo, "Is there room for me?")
        demo.find_element(By.ID, "speak").click()
        WebDriverWait(demo, 30).until(lambda driver: driver.find_element(By.ID, "error").is_displayed())
        message = demo.find_element(By.ID, "error").text
        assert re.match(r"The server is busy \(HTTP 429\): the server is busy: .*; retry in \d+ s$", message), message
    finally:
        holder.close()  # the client leaves: the server stops its work and frees its place
    deadline = time.monotonic() + 60
    while requests_in_flight(tight_server) > 0:
        assert time.monotonic() < deadline, "the long request kept its place after its client left"
        time.sleep(0.5)
