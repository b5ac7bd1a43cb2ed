"""Every page of the built book, opened in headless Chromium as a reader meets it.

Needs a built book (``make book`` or ``make book-ci``) and Debian's ``chromium`` and
``chromium-driver``; skipped otherwise (``make test`` on a fresh clone). ``make browser-test``
runs it. The pages are served from ``_build/html`` on 127.0.0.1 and every other host name
fails to resolve, so a page that needs the network shows it as a console error. For each page:
no console errors, every image loaded, every equation typeset by MathJax, no table or figure
wider than the text column; a solution dropdown opens on click. A screenshot of each page,
1280 px wide and full height, goes to ``_build/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from _serving import serve_directory

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
SHOTS = HTML.parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTH = 1280
WIDE_SCREEN = 1366  # the two widths readers' laptops have most
REPORT = HTML.parent / "overflow.txt"
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static"}


def _pages() -> list[str]:
    if not (HTML / "index.html").is_file():
        return []
    return sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(HTML).parts))


PAGES = _pages()
pytestmark = [
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                       reason="needs Debian's chromium and chromium-driver"),
]
needs_book = pytest.mark.skipif(not PAGES, reason="no built book in _build/html (make book-ci)")
webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def server():
    REPORT.unlink(missing_ok=True)
    with serve_directory(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={WIDTH},900",
                 # the network is off: every host but the local server fails to resolve
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(browser, server, page):
    browser.get(f"{server}/{page}")
    for _ in range(200):
        if browser.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.05)
    return browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
            done("absent"); return;
        }
        MathJax.startup.promise.then(() => done("typeset"), e => done("error: " + e));
    """)


def _report(page, problems):
    """Every offender also goes to _build/overflow.txt (one line each), for whoever fixes
    the chapters: the file starts afresh with each run of the module."""
    with open(REPORT, "a", encoding="utf-8") as out:
        out.writelines(f"{page}\t{line}\n" for line in problems)


def _screenshot(browser, page):
    height = browser.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": min(int(height), 30000), "deviceScaleFactor": 1,
        "mobile": False})
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = page.removesuffix(".html").replace("/", "__") + ".png"
    browser.save_screenshot(str(SHOTS / name))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


CHECKS = """
const article = document.querySelector("article.bd-article") || document.body;
// the text column: the content box of the page's top-level section
const column = (article.querySelector("section") || article).getBoundingClientRect();
const text = (() => {
    const copy = article.cloneNode(true);
    copy.querySelectorAll("pre, code, script, style, .highlight").forEach(e => e.remove());
    return copy.textContent;
})();
const maths = [...article.querySelectorAll(".math")];
const wide = [...article.querySelectorAll("table, img, figure")].filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > column.width + 1 || box.right > column.right + 1;
}).map(e => e.tagName + " " + Math.round(e.getBoundingClientRect().width) + " px: "
           + (e.getAttribute("src") || e.textContent.slice(0, 60)));
// a visible code cell input (not folded away in a closed <details>) that holds an assert
const shown = e => e.getClientRects().length > 0 && !e.closest("details:not([open])");
const asserts = [...article.querySelectorAll(".cell_input")]
    .filter(e => shown(e) && /^\\s*assert\\b/m.test(e.textContent))
    .map(e => e.textContent.match(/^\\s*assert\\b.*$/m)[0].trim().slice(0, 80));
return {
    images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                                .map(i => i.getAttribute("src")),
    maths: maths.length,
    untypeset: maths.filter(m => !m.querySelector("mjx-container")).length,
    containers: document.querySelectorAll("mjx-container").length,
    raw: ["$$", "\\\\(", "\\\\["].filter(s => text.includes(s)),
    columnWidth: column.width,
    wide: wide,
    asserts: asserts,
};
"""

# Everything a reader may unfold is opened first. A display equation, a code listing (cell
# input, literalinclude) or an output wider than the text column, or scrolling sideways
# inside it, is reported as "kind width px > room px: its first characters" (the room of an
# equation is the column less its number).
OVERFLOW = """
document.querySelectorAll("details").forEach(d => { d.open = true; });
const article = document.querySelector("article.bd-article") || document.body;
const column = (article.querySelector("section") || article).getBoundingClientRect();
const kind = e => e.closest(".cell_output, .output") ? "output"
    : e.closest(".cell_input") ? "code cell" : e.tagName === "PRE" ? "listing" : "equation";
const found = [];
const check = (e, inner) => {
    const box = e.getBoundingClientRect();
    if (box.width === 0) return;
    const need = Math.max(inner.getBoundingClientRect().width, e.scrollWidth);
    const cut = e.scrollWidth > e.clientWidth + 1 || box.right > column.right + 1
        || need > column.width + 1;
    if (cut) {
        const text = (e.closest(".math") || e).textContent.replace(/\\s+/g, " ").trim();
        const room = Math.min(e.clientWidth, column.width);
        found.push(kind(e) + " " + Math.round(need) + " px > " + Math.round(room)
                   + " px: " + text.slice(0, 70));
    }
};
article.querySelectorAll("pre").forEach(e => check(e, e));
article.querySelectorAll("mjx-container[display='true']").forEach(e =>
    check(e, e.querySelector("mjx-math") || e));
return found;
"""


@needs_book
@pytest.mark.parametrize("page", PAGES)
def test_page(browser, server, page):
    browser.get_log("browser")  # drop what an earlier page left
    mathjax = _open(browser, server, page)
    facts = browser.execute_script(CHECKS)
    errors = [entry["message"] for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]]
    _screenshot(browser, page)
    assert not errors, errors
    assert not facts["images"], f"images that did not load: {facts['images']}"
    if facts["maths"]:
        assert mathjax == "typeset", mathjax
        assert facts["containers"] > 0 and facts["untypeset"] == 0, facts
    assert not facts["raw"], f"TeX delimiters left in the text: {facts['raw']}"
    assert 600 < facts["columnWidth"] < WIDTH, facts["columnWidth"]
    assert not facts["wide"], f"wider than the {facts['columnWidth']:.0f} px column: " \
                              f"{facts['wide']}"
    cut = {}
    for width in (WIDTH, WIDE_SCREEN):
        browser.set_window_size(width, 900)
        cut.update({line: width for line in browser.execute_script(OVERFLOW)
                    if line not in cut})
    browser.set_window_size(WIDTH, 900)
    problems = [f"at {width} px: {line}" for line, width in cut.items()]
    problems += [f"assert on show: {line}" for line in facts["asserts"]]
    _report(page, problems)
    assert not problems, "wider than the text column (cut or scrolling sideways), or test " \
        "code unfolded:\n" + "\n".join(problems)


@needs_book
def test_no_page_loads_from_the_network():
    for page in PAGES:
        html = (HTML / page).read_text(encoding="utf-8")
        for tag in ("<script src=\"http", "<script src=\"//", "rel=\"stylesheet\" href=\"http",
                    "rel=\"stylesheet\" href=\"//"):
            assert tag not in html, (page, tag)


@needs_book
def test_solution_dropdown_opens_on_click(browser, server):
    from selenium.webdriver.common.by import By

    page = next((p for p in PAGES if 'class="solution dropdown'
                 in (HTML / p).read_text(encoding="utf-8")), None)
    assert page, "no page with a solution dropdown"
    _open(browser, server, page)
    solutions = browser.find_elements(By.CSS_SELECTOR, "div.solution.dropdown")
    assert solutions, page
    solution = solutions[0]
    body = solution.find_elements(By.CSS_SELECTOR, ":scope > :not(.admonition-title)")
    assert body and not any(e.is_displayed() for e in body), "the solution starts open"
    # the button sphinx-togglebutton adds (the title itself holds a link to the exercise)
    button = solution.find_element(By.CSS_SELECTOR, "button.toggle-button")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    for _ in range(40):
        if any(e.is_displayed() for e in body):
            break
        time.sleep(0.05)
    assert any(e.is_displayed() for e in body), "the solution did not open on click"


CHAPTER_PAGES = [p for p in PAGES if p.startswith("notebooks/")]


@needs_book
@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_chapter_has_download_colab_and_binder_buttons_to_existing_files(page):
    """Every chapter links its generated notebook three ways, all from repository.url: a
    download from the build, Colab's GitHub loader and Binder."""
    import re

    import yaml

    html = (HTML / page).read_text(encoding="utf-8")
    stem = Path(page).stem
    download = re.search(r'href="([^"]*_sources/notebooks/' + stem + r'\.ipynb)"', html)
    assert download, f"{page}: no .ipynb download link"
    assert (HTML / "_sources" / "notebooks" / f"{stem}.ipynb").is_file()
    generated = (HTML / "_sources" / "notebooks" / f"{stem}.ipynb").read_text()
    assert "find_spec" in generated  # the generated notebook, with its setup cell
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    org_repo = url.removeprefix("https://github.com/").strip("/")
    colab = re.search(r'href="(https://colab\.research\.google\.com/github/' +
                      re.escape(org_repo) + r'/blob/[^/"]+/([^"]+))"', html)
    binder = re.search(r'href="(https://mybinder\.org/v2/gh/' + re.escape(org_repo) +
                       r'/[^"?]+\?urlpath=[^"]*?(notebooks[^"&]+))"', html)
    assert colab and binder, f"{page}: launch buttons missing"
    assert (ROOT / colab.group(2)).is_file() and colab.group(2).endswith(".ipynb")
    binder_path = binder.group(2).replace("%2F", "/")
    assert (ROOT / binder_path).is_file(), binder_path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``make lab`` on a free port of 127.0.0.1 with a token, its own runtime, workspace and
    user-settings folders (the user's own lab settings cannot change what it shows). ``-o``
    keeps make from reinstalling the venv."""
    import secrets
    import signal
    import subprocess
    import urllib.request

    if shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("needs make and the venv make install creates")
    folder = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_TOKEN": token, "BROWSER": "true",
           "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings")}
    # every cell in the page, not only those in view, so that the test sees them all
    tracker = folder / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    log = open(folder / "lab.log", "wb")
    process = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "lab",
                                f"PORT={port}", "IP=127.0.0.1"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("make lab did not start: " + (folder / "lab.log").read_text())
                time.sleep(0.5)
        yield url, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


LAB_CHAPTER = "09_glocal_k.md"


def _wait(browser, script, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        value = browser.execute_script(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_lab_opens_a_chapter_as_a_notebook_by_double_click(browser, lab):
    """A double click on a chapter in make lab's file browser opens it as a notebook: code
    cells, markdown rendered (its MyST directives too), and the tab not marked modified."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, token = lab
    browser.get(f"{url}/lab?token={token}")
    item = f"//li[contains(@class, 'jp-DirListing-item')][.//span[text()='{LAB_CHAPTER}']]"
    found = f"""const e = document.evaluate("{item}", document, null,
        XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
        return e !== null && e.getClientRects().length > 0"""
    if not _wait(browser, found, 60):
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOTS / "lab.png"))
    assert _wait(browser, found, 1), "the chapter is not in the file browser (see lab.png)"
    entry = browser.find_element(By.XPATH, item)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", entry)
    time.sleep(0.5)  # the file browser settles (lab keeps laying out its panels)
    ActionChains(browser).double_click(entry).perform()
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    opened = f"""return document.querySelectorAll(
        "{panel} .jp-MarkdownCell h1").length > 0"""
    if not _wait(browser, opened, 60):
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOTS / "lab.png"))
    assert _wait(browser, opened, 1), \
        "no notebook with rendered markdown opened (a text editor instead? see lab.png)"
    # lab renders a markdown cell when it first scrolls into view
    browser.execute_async_script(f"""
        const done = arguments[arguments.length - 1];
        const cells = [...document.querySelectorAll("{panel} .jp-MarkdownCell")];
        (async () => {{
            for (const cell of cells) {{
                cell.scrollIntoView();
                await new Promise(r => setTimeout(r, 50));
            }}
            done();
        }})();""")
    facts = browser.execute_script(f"""
        const panel = document.querySelector("{panel}");
        // jupyterlab-myst renders a markdown cell into a .myst widget
        const markdown = [...panel.querySelectorAll(".jp-MarkdownCell .myst")];
        const tab = document.querySelector(".lm-TabBar-tab.jp-mod-current");
        return {{code: panel.querySelectorAll(".jp-CodeCell").length,
                 cells: panel.querySelectorAll(".jp-MarkdownCell").length,
                 markdown: markdown.length,
                 raw: markdown.map(e => e.textContent)
                              .filter(t => t.includes(":::{{") || t.includes("```{{")).length,
                 title: tab && tab.textContent, editors: document.querySelectorAll(
                     ".jp-FileEditor:not(.lm-mod-hidden)").length}};""")
    assert facts["title"] and LAB_CHAPTER in facts["title"], facts
    assert facts["code"] > 10 and facts["editors"] == 0, facts
    assert facts["markdown"] == facts["cells"] > 10, facts
    assert facts["raw"] == 0, f"MyST directives shown as text in {facts['raw']} cells"
    # the kernel starting and the notebook settling must not mark it modified either
    time.sleep(3)
    dirty = browser.execute_script(
        "return [...document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty')]"
        ".map(t => t.textContent)")
    assert not dirty, f"opening marked modified: {dirty}"
