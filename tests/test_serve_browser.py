"""``xalign serve`` in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``,
driven by selenium): upload files, ask two questions, read the model's answers from the page,
see a bad file's loader message; saves the screenshot docs/serve.png.

The server runs in this process on 127.0.0.1 and a free port, with untrained projectors on
the embedded SmolLM2 (answers are nonsense, but they are the model's and the page must show
them). Every wait is bounded; the browser and the server are closed at the end.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.test_serve import backend_for, need_plugins, save_projectors, write_media

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "serve.png"
WAIT_S = 120  # one step (a page load, an upload, an answer) on a loaded 2-core machine


@pytest.fixture()
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1400,1400",  # software WebGL for Model3D:
                 "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--use-gl=angle"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("gradio")
    need_plugins()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.chdir(tmp_path)  # projectors listed as runs/<modality>/projector, as a user sees
    from xalign.serve.app import build_app, launch

    backend = backend_for(save_projectors(Path("runs")))
    answers: list[str] = []
    real = backend.answer

    def answer(*args, **kwargs):
        answers.append(real(*args, **kwargs))
        return answers[-1]

    backend.answer = answer
    app = build_app(backend)
    url = launch(app, 0, block=False)
    assert url.startswith("http://127.0.0.1:")
    try:
        yield url, answers
    finally:
        app.close()


def _chat_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "xalign-chat").text


def _wait_for(driver, predicate, what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, WAIT_S, poll_frequency=0.5).until(lambda d: predicate(d))
    except Exception as exc:
        raise AssertionError(f"waited {WAIT_S} s for {what}; the chat shows: "
                             f"{_chat_text(driver)!r}") from exc


def _shown(driver, elem_id: str) -> bool:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, elem_id)
    return bool(found) and found[0].is_displayed()


def _upload(driver, path: Path, shows: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.CSS_SELECTOR, "#xalign-upload input[type=file]")
    field.send_keys(str(path))
    _wait_for(driver, lambda d: shows in _chat_text(d), repr(shows))


def _ask(driver, question: str, answers: list[str]) -> str:
    from selenium.webdriver.common.by import By

    count = len(answers)
    driver.find_element(By.CSS_SELECTOR, "#xalign-question textarea").send_keys(question)
    driver.find_element(By.ID, "xalign-send").click()
    _wait_for(driver, lambda d: len(answers) > count and answers[-1] in _chat_text(d),
              f"the answer to {question!r}")
    return answers[-1]


def test_chat_in_chromium_uploads_answers_and_bad_files(browser, server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    url, answers = server
    start = time.monotonic()
    browser.get(url)
    _wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#xalign-upload input"),
              "the page")
    assert "3 projector(s) for 3d, audio, image" in browser.find_element(
        By.ID, "xalign-header").text
    assert "image · runs/image/projector" in browser.find_element(By.ID, "xalign-projectors").text

    _upload(browser, write_media("image", tmp_path), "[image] image-0.png")
    _wait_for(browser, lambda d: _shown(d, "xalign-preview-image"), "the image preview")
    first = _ask(browser, "What colour is the shape?", answers)
    _upload(browser, write_media("3d", tmp_path), "[3d] 3d-0.npy")
    _wait_for(browser, lambda d: any(c.size["height"] > 100 for c in d.find_elements(
        By.CSS_SELECTOR, "#xalign-preview-3d canvas")), "the 3D preview (Model3D's canvas)")
    assert not _shown(browser, "xalign-preview-image")  # one preview at a time
    second = _ask(browser, "Which input is round?", answers)
    assert all(any(c.isalpha() for c in a) for a in (first, second))  # words, not ""
    text = _chat_text(browser)
    assert text.index("What colour is the shape?") < text.index(first) < text.index(
        "[3d] 3d-0.npy") < text.index("Which input is round?")

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    _upload(browser, broken, "⚠ broken.png:")
    text = _chat_text(browser)
    assert "not a recognised image" in text and "Traceback" not in text
    assert str(tmp_path) not in text  # the file's name, not gradio's upload folder

    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    print(f"\nbrowser test: {time.monotonic() - start:.0f} s after the server started; "
          f"screenshot {SCREENSHOT}")
