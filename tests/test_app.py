"""`cocogold_app` for real: the command (`python -m cocogold.app`, bundled model) started on a free local port, called
through its `/segment` endpoint with `gradio_client`, and opened in headless Chromium.

- The API answers an image and a prompt with a mask PNG of the input's size, equal (IoU 1) to the mask the
  pipeline itself reads back for the same image, prompt and seed; also for an input of another size than
  the model's processing resolution.
- A non-image upload, an empty prompt and a too large image get a one-line message (`AppError`), and the
  server answers the next request.
- The page loads nothing but from the app's own address (no CDN, no web fonts), logs no console error,
  shows the mask over an uploaded image after Segment, and shows the empty-prompt message in the page.
  A screenshot is saved to `_docs/app_screenshot.png` (`_docs/` is the build folder the docs test writes to)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from cocogold.app import MAX_PIXELS, bundled_examples, BUNDLED_MODEL  # noqa: E402
from cocogold.pipeline import CocogoldPipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client's telemetry too
START_TIMEOUT = 180  # seconds for the server to answer: importing torch and gradio on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    "The URL of `cocogold_app` (bundled model) serving on a free local port; the server is stopped after the module."
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cocogold.app", "--port", str(port)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + START_TIMEOUT
    while True:
        assert proc.poll() is None, f"cocogold_app exited {proc.returncode}:\n{proc.stdout.read()}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200: break
        except OSError: pass
        assert time.monotonic() < deadline, f"cocogold_app did not answer on {url} within {START_TIMEOUT} s"
        time.sleep(0.5)
    yield url
    proc.terminate()
    try: proc.wait(timeout=20)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait()


@pytest.fixture(scope="module")
def client(app_url):
    c = Client(app_url, verbose=False, analytics_enabled=False)
    yield c
    c.close()


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(1)
    p = CocogoldPipeline.from_pretrained(BUNDLED_MODEL)
    p.set_progress_bar_config(disable=True)
    return p


def api_mask(client, image_path, prompt) -> np.ndarray:
    "The mask the app's /segment endpoint answers, as a bool array."
    answer = Image.open(client.predict(handle_file(str(image_path)), prompt, api_name="/segment"))
    return np.asarray(answer.convert("L")) > 127


def iou(a, b) -> float: return (a & b).sum() / max((a | b).sum(), 1)


def test_api_mask_is_the_pipelines(client, pipe, tmp_path):
    giraffe_path, prompt = bundled_examples()[1]
    stretched = tmp_path / "giraffe_100x75.png"
    Image.open(giraffe_path).convert("RGB").resize((100, 75), Image.BICUBIC).save(stretched)
    for path in (giraffe_path, stretched):
        image = Image.open(path).convert("RGB")
        mask = api_mask(client, path, prompt)
        assert mask.shape == (image.height, image.width)
        own = pipe(image, prompt, generator=torch.Generator().manual_seed(0)).mask[0]
        assert iou(mask, own) == 1.0 and 0.05 < mask.mean() < 0.6, (path, mask.mean(), own.mean())


def test_bad_inputs_give_messages_and_the_server_keeps_serving(client, tmp_path):
    from gradio_client.exceptions import AppError
    example, prompt = bundled_examples()[0]
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("RGB", (4100, 4100), (90, 120, 60)).save(huge)
    assert 4100 * 4100 > MAX_PIXELS
    for path, bad_prompt, message in [(example, "   ", "prompt is empty"), (notes, prompt, "not an image"),
                                      (huge, prompt, "over this app's limit")]:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(str(path)), bad_prompt, api_name="/segment")
    assert api_mask(client, example, prompt).shape == (64, 64)


def loaded_image(driver, selector):
    "The src of the first loaded image under `selector`, or None."
    return driver.execute_script(
        "const i = document.querySelector(arguments[0] + ' img'); return i && i.complete && i.naturalWidth > 0 ? i.src : null",
        selector)


def test_page_in_chromium(browser, app_url, client):
    browser.get(app_url)
    wait = WebDriverWait(browser, 60)
    prompt = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#prompt textarea, #prompt input"))[0]
    button = browser.find_element(By.CSS_SELECTOR, "#segment")

    giraffe_path, giraffe_prompt = bundled_examples()[1]
    upload = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#image input[type=file]"))[0]
    upload.send_keys(giraffe_path)
    wait.until(lambda d: loaded_image(d, "#image"))
    prompt.send_keys(giraffe_prompt)
    button.click()
    wait.until(lambda d: loaded_image(d, "#overlay"))
    wait.until(lambda d: "mask:" in d.find_element(By.CSS_SELECTOR, "#status").text)
    out = ROOT / "_docs" / "app_screenshot.png"
    out.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(out))

    prompt.send_keys(Keys.CONTROL, "a")
    prompt.send_keys(Keys.BACKSPACE)  # (selenium's clear() fires no input event)
    button.click()  # an empty prompt: a message in the page
    wait.until(lambda d: "prompt is empty" in d.find_element(By.TAG_NAME, "body").text)

    origin = app_url.rstrip("/")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    remote = [r for r in resources if not r.startswith((origin, "data:", "blob:"))]
    assert not remote, f"the page loads from outside the app: {remote}"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
