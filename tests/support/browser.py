"""Headless Debian Chromium driven by Selenium, and axe-core accessibility checks in it.

Nothing is downloaded: the browser and its driver are the system's (``/usr/bin/chromium``,
``/usr/bin/chromedriver``, or ``GOVCHAIN_CHROMIUM`` / ``GOVCHAIN_CHROMEDRIVER``), so Selenium
Manager never runs, and axe-core comes from the checkout's ``node_modules`` (npm).

    with chromium(width=360) as driver:
        driver.get(url)
        violations = run_axe(driver)
        assert not violations, format_violations(violations)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

ENV_CHROMIUM = "GOVCHAIN_CHROMIUM"
ENV_CHROMEDRIVER = "GOVCHAIN_CHROMEDRIVER"
ENV_AXE = "GOVCHAIN_AXE_JS"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
DESKTOP = (1280, 900)
PHONE = (360, 800)
_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
          "--disable-features=Translate,OptimizationHints,MediaRouter", "--lang=de-DE")


def chromium_binary() -> str:
    return os.environ.get(ENV_CHROMIUM, "/usr/bin/chromium")


def chromedriver_binary() -> str:
    return os.environ.get(ENV_CHROMEDRIVER, "/usr/bin/chromedriver")


def missing_browser() -> str | None:
    """Why a browser cannot be started here (None if it can)."""
    for what, path in (("Chromium", chromium_binary()), ("chromedriver", chromedriver_binary())):
        if not os.access(path, os.X_OK):
            return (f"{what} fehlt unter {path} (Debian: apt-get install chromium chromium-driver; "
                    f"oder {ENV_CHROMIUM}/{ENV_CHROMEDRIVER} setzen)")
    return None


def axe_script() -> Path:
    """node_modules/axe-core/axe.min.js of the checkout (or GOVCHAIN_AXE_JS)."""
    configured = os.environ.get(ENV_AXE)
    if configured:
        return Path(configured)
    for root in Path(__file__).resolve().parents:
        candidate = root / "node_modules" / "axe-core" / "axe.min.js"
        if candidate.is_file():
            return candidate
    return Path.cwd() / "node_modules" / "axe-core" / "axe.min.js"


@contextlib.contextmanager
def chromium(*, width: int = DESKTOP[0], height: int = DESKTOP[1],
             download_dir: Path | None = None) -> Iterator[WebDriver]:
    """A fresh headless Chromium (own profile in a temporary directory), quit at the end."""
    profile = Path(tempfile.mkdtemp(prefix="govchain-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    for flag in (*_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    prefs: dict[str, Any] = {"intl.accept_languages": "de-DE,de", "credentials_enable_service": False,
                             "profile.password_manager_enabled": False}
    if download_dir is not None:
        prefs.update({"download.default_directory": str(download_dir),
                      "download.prompt_for_download": False,
                      "plugins.always_open_pdf_externally": True})
    options.add_experimental_option("prefs", prefs)
    service = Service(executable_path=chromedriver_binary(), log_output=os.devnull)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        set_viewport(driver, width, height)
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver: WebDriver, width: int, height: int = DESKTOP[1]) -> None:
    """The page's viewport (not the window) gets exactly this size: media queries see `width`."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}))))
  .catch(e => done({error: String(e)}));
"""


def run_axe(driver: WebDriver, tags: tuple[str, ...] = WCAG_TAGS) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG 2.1 A/AA rules on the current page (empty when none)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        script = axe_script()
        if not script.is_file():
            raise FileNotFoundError(f"axe-core fehlt ({script}): 'npm ci' im govchain-Verzeichnis "
                                    f"ausführen oder {ENV_AXE} setzen")
        driver.execute_script(script.read_text(encoding="utf-8"))
    result = driver.execute_async_script(_AXE_RUN, list(tags))
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(f"axe-core ist fehlgeschlagen: {result['error']}")
    violations: list[dict[str, Any]] = list(result)
    return violations


def horizontal_overflow(driver: WebDriver) -> list[str]:
    """Elements that stick out of the viewport sideways, making the page itself scroll
    (WCAG 1.4.10 reflow); content scrolled inside its own box (a wide table) does not count."""
    found: list[str] = driver.execute_script("""
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        const out = [];
        for (const e of document.body.querySelectorAll('*')) {
            const r = e.getBoundingClientRect();
            if (r.right > width + 1 && r.width > 0) {
                let inside = false;
                for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                    const o = getComputedStyle(p).overflowX;
                    if (o === 'auto' || o === 'scroll' || o === 'hidden') { inside = true; break; }
                }
                const classes = typeof e.className === 'string' && e.className.trim()
                    ? '.' + e.className.trim().split(/\\s+/).join('.') : '';
                if (!inside) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + classes +
                    ' (rechts bis ' + Math.round(r.right) + ' px)');
            }
        }
        return out.slice(0, 10);""")
    return found


def format_violations(violations: list[dict[str, Any]], where: str = "") -> str:
    """A readable list: rule id, impact and help, then each node's selector and what to fix."""
    lines = [f"{len(violations)} axe-Verstöße{' auf ' + where if where else ''}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v.get('help')} <{v.get('helpUrl')}>")
        for node in v.get("nodes", []):
            target = " ".join(" > ".join(t) if isinstance(t, list) else str(t) for t in node["target"])
            summary = " ".join(str(node.get("summary") or "").split())
            lines.append(f"    {target}: {str(node.get('html'))[:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def focus_outline(driver: WebDriver) -> dict[str, str]:
    """The computed focus indication of the focused element (outline and box-shadow)."""
    style: dict[str, str] = driver.execute_script("""
        const e = document.activeElement; const s = getComputedStyle(e);
        return {tag: e.tagName, id: e.id || '', name: e.getAttribute('name') || '',
                outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth,
                outlineColor: s.outlineColor, boxShadow: s.boxShadow,
                focusVisible: String(e.matches(':focus-visible'))};""")
    return style


def has_visible_focus(style: dict[str, str]) -> bool:
    """An outline of some width or a box shadow marks the focused element."""
    outline = style.get("outlineStyle", "none") not in ("none", "") and \
        style.get("outlineWidth", "0px") not in ("0px", "")
    shadow = style.get("boxShadow", "none") not in ("none", "")
    return outline or shadow


# -- working with govchain's pages ------------------------------------------------------------

def wait_css(driver: WebDriver, css: str, timeout: float = 20.0) -> WebElement:
    """The first element matching `css`, once it is there."""
    element: WebElement = WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
    return element


def wait_url(driver: WebDriver, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
    WebDriverWait(driver, timeout).until(lambda d: predicate(d.current_url))
    return str(driver.current_url)


def clear_cookies(driver: WebDriver) -> None:
    """Drops every cookie of the browser (Selenium's own call only reaches the current page's)."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})


def login(driver: WebDriver, base_url: str, username: str, password: str) -> None:
    """Signs in through the login page (any earlier session is dropped first)."""
    clear_cookies(driver)
    driver.get(base_url + "/login")
    wait_css(driver, "#username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait_url(driver, lambda url: "/login" not in url)


def date_field_order(driver: WebDriver) -> list[str]:
    """The order in which a date field takes day, month and year: the browser's own locale
    (Intl's default), which is what <input type=date> follows, not the page's language."""
    order: list[str] = driver.execute_script(
        "return new Intl.DateTimeFormat().formatToParts(new Date(2001, 10, 22))"
        ".map(p => p.type).filter(t => ['day', 'month', 'year'].includes(t))")
    return order


def date_keys(driver: WebDriver, iso: str) -> str:
    """The digits a person types into a date field for `iso`, in the field's order."""
    year, month, day = iso.split("-")
    parts = {"year": year, "month": month, "day": day}
    return "".join(parts[p] for p in date_field_order(driver))


def type_date(driver: WebDriver, element: WebElement, iso: str) -> None:
    """Types a date into an <input type=date> as a person would; the value is checked after."""
    _click(driver, element)
    element.send_keys(date_keys(driver, iso))
    if element.get_attribute("value") != iso:
        raise AssertionError(f"Datum {iso} ließ sich nicht eintippen "
                             f"(Feld zeigt {element.get_attribute('value')!r})")


def fill_form(driver: WebDriver, form_css: str, values: Mapping[str, Any]) -> None:
    """Fills a form generated from a JSON Schema with a subject, the way a person clicks and types.

    Inputs are named by JSON Pointer (see the page forms); a list longer than the rows shown gets
    rows by clicking its "add" button (a round trip that keeps what was typed). A list of enum
    values is a group of check boxes named by the list's pointer.
    """
    from govchain.domain.pointers import iter_leaves

    for pointer, value in iter_leaves(dict(values)):
        if value in ({}, []):
            continue
        element = _named(driver, form_css, pointer)
        if element is None:
            parent = pointer.rsplit("/", 1)[0]
            box = driver.find_elements(By.CSS_SELECTOR,
                                       f'{form_css} input[type=checkbox][name="{parent}"][value="{value}"]')
            if box:
                if not box[0].is_selected():
                    _click(driver, box[0])
                continue
            _add_row_for(driver, form_css, pointer)
            element = _named(driver, form_css, pointer)
            if element is None:
                raise AssertionError(f"Kein Eingabefeld für {pointer} im Formular {form_css}")
        set_value(driver, element, value)


def set_value(driver: WebDriver, element: WebElement, value: object) -> None:
    tag = element.tag_name.lower()
    kind = (element.get_attribute("type") or "").lower()
    if tag == "select":
        Select(element).select_by_value(_form_value(value))
    elif kind == "checkbox":
        if element.is_selected() != bool(value):
            _click(driver, element)
    elif kind == "date":
        type_date(driver, element, str(value))
    else:
        element.clear()
        element.send_keys(_form_value(value))


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _named(driver: WebDriver, form_css: str, pointer: str) -> WebElement | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'{form_css} [name="{pointer}"]:not([type=hidden])')
    return found[0] if found else None


def _add_row_for(driver: WebDriver, form_css: str, pointer: str) -> None:
    """Clicks the "add" button of the innermost list that `pointer` is an element of."""
    tokens = pointer.split("/")
    for i in range(len(tokens) - 1, 0, -1):
        if tokens[i].isdigit():
            buttons = driver.find_elements(
                By.CSS_SELECTOR, f'{form_css} button[name="__add__"][value="{"/".join(tokens[:i])}"]')
            if buttons:
                _click(driver, buttons[0])
                WebDriverWait(driver, 20).until(expected_conditions.staleness_of(buttons[0]))
                return
    raise AssertionError(f"Keine Schaltfläche, um eine Zeile für {pointer} hinzuzufügen")


def _click(driver: WebDriver, element: WebElement) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def enable_downloads(driver: WebDriver, directory: Path) -> None:
    """Downloads go to `directory` without asking (headless Chromium needs it said over CDP)."""
    directory.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {
        "behavior": "allow", "downloadPath": str(directory), "eventsEnabled": True})


def wait_for_download(directory: Path, suffix: str, before: set[Path] | None = None,
                      timeout: float = 30.0) -> Path:
    """The file with `suffix` that appears in `directory` (complete: no .crdownload left)."""
    known = before or set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in directory.glob(f"*{suffix}") if p not in known]
        if done and not list(directory.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"Kein Download *{suffix} in {directory} nach {timeout} s")


def qr_codes_in_pdf(data: bytes, page: int = 0, scale: float = 3.0) -> list[str]:
    """The texts of the QR codes on one page of a PDF (rendered with pdfium, read with zxing-cpp)."""
    import pypdfium2
    import zxingcpp

    pdf = pypdfium2.PdfDocument(data)
    try:
        image = pdf[page].render(scale=scale).to_pil()
    finally:
        pdf.close()
    return [str(code.text) for code in zxingcpp.read_barcodes(image)
            if code.format == zxingcpp.BarcodeFormat.QRCode]


def page_screenshot(driver: WebDriver, path: Path, width: int, max_height: int = 2400) -> None:
    """A PNG of the whole page at `width` CSS pixels (up to `max_height`), as a phone shows it."""
    set_viewport(driver, width, 800)
    height = int(driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"))
    set_viewport(driver, width, min(max(height, 600), max_height))
    driver.execute_script("window.scrollTo(0, 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"Bildschirmfoto {path} nicht geschrieben")
