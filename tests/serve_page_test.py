#!/usr/bin/env python3
"""The `cxr serve` page in headless Chromium (tests/test_serve_browser.cpp runs it; exit 77 = skipped).

Starts `cxr serve` on a free port, loads the page, uploads an image, waits for the class probabilities and
an overlay, switches the method and then the layer and checks that the map changes, picks a --data image
from the list, saves a screenshot, and ends the server with SIGTERM (exit code 0 expected).
"""
import argparse, os, re, shutil, signal, subprocess, sys, time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    print("SKIP: python3-selenium is not installed (scripts/install-deps.sh test)")
    sys.exit(77)

ap = argparse.ArgumentParser()
ap.add_argument("--cxr", required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--image", required=True)
ap.add_argument("--screenshot", required=True)
a = ap.parse_args()

driver_exe = shutil.which("chromedriver") or "/usr/bin/chromedriver"
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not os.access(driver_exe, os.X_OK) or not browser:
    print("SKIP: chromium / chromium-driver are not installed (scripts/install-deps.sh test)")
    sys.exit(77)

server = subprocess.Popen([a.cxr, "--threads", "1", "serve", "--model", a.model, "--data", a.data, "--port", "0"],
                          stdout=subprocess.PIPE, text=True)
url = None
for line in server.stdout:
    m = re.search(r"Open (http://127\.0\.0\.1:\d+/)", line)
    if m:
        url = m.group(1)
        break
assert url, "cxr serve printed no address"

opts = webdriver.ChromeOptions()
opts.binary_location = browser
for f in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000",
          "--no-first-run", "--disable-extensions"]:
    opts.add_argument(f)
driver = webdriver.Chrome(service=Service(driver_exe), options=opts)
failed = None
try:
    driver.get(url)
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#method option")) >= 9)
    js = lambda s: driver.execute_script(s)

    def settled(method=None, layer=None):
        def ok(d):
            v = js("return state.views[0] && {m: state.views[0].method, l: state.views[0].layer};")
            st = js("return document.getElementById('status').textContent")
            if "error" in js("return document.getElementById('status').className"):
                raise AssertionError("the page shows an error: " + st)
            return (v and st.startswith("map in") and (method is None or v["m"] == method)
                    and (layer is None or layer in v["l"]))
        wait.until(ok)

    driver.find_element(By.ID, "file").send_keys(os.path.abspath(a.image))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#probs .prob")) == 3)
    settled("gradcam")
    first = js("return state.views[0].map.data")
    canvas1 = js("return document.getElementById('canvas-a').toDataURL()")
    assert js("return document.getElementById('canvas-a').width") == 64, "the overlay is not at the image's size"

    Select(driver.find_element(By.ID, "method")).select_by_value("gradcam++")
    settled("gradcam++")
    Select(driver.find_element(By.ID, "layer")).select_by_value("features.2")
    settled("gradcam++", "features.2")
    third = js("return state.views[0].map.data")
    assert len(third) != len(first) or third != first, "the map did not change with the layer"
    degenerate = js("return state.views[0].degenerate")
    if not degenerate:
        assert js("return document.getElementById('canvas-a').toDataURL()") != canvas1, "the overlay did not change"
    # The opacity slider redraws in the browser alone.
    js("const s = document.getElementById('alpha'); s.value = 0.9; s.dispatchEvent(new Event('input'));")
    assert js("return document.getElementById('alpha-v').textContent") == "0.90"

    # A --data image from the list.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#image-list li")) > 0)
    driver.find_elements(By.CSS_SELECTOR, "#image-list li")[0].click()
    wait.until(lambda d: "True label" in d.find_element(By.ID, "probs").text)
    settled()
    driver.find_element(By.ID, "measure").click()
    wait.until(lambda d: "Deletion AUC" in d.find_element(By.ID, "metrics").text
               or "flat" in d.find_element(By.ID, "metrics").text)
    driver.save_screenshot(a.screenshot)
    print("screenshot:", a.screenshot)
except Exception as e:  # report, then still stop the server
    failed = e
    try:
        driver.save_screenshot(a.screenshot)
    except Exception:
        pass
finally:
    driver.quit()
    server.send_signal(signal.SIGTERM)
    rc = server.wait(timeout=30)
if failed:
    raise failed
assert rc == 0, f"cxr serve exited {rc} after SIGTERM"
print("OK")
