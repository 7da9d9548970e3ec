"""A real Chromium (Debian's, through Playwright's executable_path) drives the chat page."""
from __future__ import annotations

import shutil

import pytest

from ..conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"),
]

# Records every distinct text of the last bot message, to see the reply stream in.
WATCH = """
() => {
  window.__qaStates = [];
  const seen = () => {
    const bots = document.querySelectorAll('#qa-chat .bot, #qa-chat [data-testid="bot"]');
    if (!bots.length) return;
    const t = bots[bots.length - 1].innerText.trim();
    if (t && window.__qaStates[window.__qaStates.length - 1] !== t) window.__qaStates.push(t);
  };
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def _ask(page, question: str) -> None:
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")


def test_question_streams_an_answer_with_cards_and_highlight(browser, app_url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    page.evaluate(WATCH)
    _ask(page, "How many industrial robots did China install in 2023?")
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    cards = page.locator("#qa-chat .qa-card")
    assert cards.count() == 5  # the cited ones open, the rest behind "more passages"
    assert page.locator("#qa-chat details.qa-more").count() == 1
    first = cards.first.inner_text()
    assert "[1]" in first and ".txt" in first and "characters" in first and "score" in first
    assert "276,000" in page.locator("#qa-chat .qa-card mark").first.inner_text()
    assert page.locator("#qa-chat a.qa-ref").first.inner_text() == "[1]"
    states = page.evaluate("window.__qaStates")
    assert len(states) >= 2, states  # "Searching…" / partial sentence before the final answer
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    _ask(page, "Who won the 2018 FIFA World Cup?")
    page.wait_for_selector("#qa-chat .qa-notfound", timeout=60_000)
    assert "Not found in the documents" in page.locator("#qa-chat .qa-notfound").last.inner_text()
    details = page.locator("#qa-chat details").last
    assert details.get_attribute("open") is None  # closest passages collapsed
    page.screenshot(path=str(ARTIFACTS / "chat-not-found.png"), full_page=True)

    # Tentative: the closest sentence is shown, its card open and highlighted, under a plain warning.
    _ask(page, "How many industrial robots did China install in 2019?")
    page.wait_for_selector("#qa-chat .qa-tentative", timeout=60_000)
    warning = page.locator("#qa-chat .qa-tentative").last
    assert warning.is_visible() and "another year" in warning.inner_text()
    mark = warning.locator("xpath=following-sibling::div[contains(@class, 'qa-cards')][1]//mark").first
    assert mark.is_visible() and "276,000" in mark.inner_text()  # open, not behind a click
    assert "None of the documents answers" not in page.locator("#qa-chat").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-tentative.png"), full_page=True)
    page.close()


def test_follow_up_in_the_page_uses_the_chat_history(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    _ask(page, "How much private money went into AI in the United States in 2024?")
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    _ask(page, "And how much was China's?")
    page.wait_for_function("document.querySelectorAll('#qa-chat .qa-answer').length >= 2", timeout=60_000)
    last_first_card = page.locator("#qa-chat .qa-answer").last.locator("xpath=following-sibling::div[1]//div[contains(@class,'qa-card')]").first
    assert "$9.3 billion" in last_first_card.inner_text()
    page.close()


def test_phone_width_has_no_sideways_scroll(browser, app_url):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    _ask(page, "What is the Big Fund?")
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"), full_page=True)
    page.close()


def test_empty_message_adds_nothing_and_clear_empties_the_chat(browser, app_url):
    page = browser.new_page()
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    _ask(page, "   ")
    page.wait_for_timeout(1500)
    assert page.locator("#qa-chat .qa-card").count() == 0
    _ask(page, "What is the Big Fund?")
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    page.locator("#qa-clear").click()
    page.wait_for_function("!document.querySelector('#qa-chat .qa-card')", timeout=10_000)
    page.close()


SEALS = [["The board met in March to plan the survey of the estuary."],
         ["The harbour seal survey counted 212 grey seals on the sandbanks at low tide."]]
SEAL_QUESTION = "How many grey seals did the survey count?"


def test_pdf_attached_in_the_chat_is_indexed_and_cited_with_its_page(browser, app_url, tmp_path):
    from ..writers import write_pdf

    pdf = write_pdf(tmp_path / "seal-survey.pdf", SEALS, title="Seal Survey 2026")
    page = browser.new_page()
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    page.evaluate(WATCH)
    page.locator("#qa-input input[type=file]").set_input_files(str(pdf))
    box = page.locator("#qa-input textarea")
    box.fill(SEAL_QUESTION)
    page.wait_for_timeout(500)  # the attachment finishes uploading to the server
    box.press("Enter")
    page.wait_for_selector("#qa-chat :text('Added seal-survey.pdf')", timeout=120_000)
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    states = page.evaluate("window.__qaStates")
    assert any("⏳" in s for s in states), states  # a progress line while it was indexed
    card = page.locator("#qa-chat .qa-card").first
    head = card.locator(".qa-card-head").inner_text()
    assert "Seal Survey 2026" in head and "uploads/seal-survey.pdf" in head and "p. 2" in head
    assert "212" in card.locator("mark").inner_text()
    # The status line counts this visitor's own file beside the shared documents.
    page.wait_for_selector("#qa-status :text('of your own')", timeout=30_000)
    assert "seal-survey.pdf" in page.locator("#qa-status").inner_text()
    href = card.locator("a.qa-open").get_attribute("href")
    assert "#page=2" in href and "library=" in href
    r = page.request.get(app_url[0] + href.split("#")[0])
    assert r.status == 200 and r.headers["content-type"] == "application/pdf"
    page.screenshot(path=str(ARTIFACTS / "upload-pdf.png"), full_page=True)

    # Another visitor, at the same time: the upload is not theirs to see.
    other = browser.new_context().new_page()
    other.goto(app_url[0])
    other.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    _ask(other, SEAL_QUESTION)
    other.wait_for_selector("#qa-chat .qa-answer, #qa-chat .qa-notfound", timeout=60_000)
    assert "seal-survey" not in other.locator("#qa-chat").inner_text()
    assert other.request.get(app_url[0] + href.split("#")[0].split("?")[0]).status == 404
    other.close()
    page.close()



def test_a_file_dropped_on_the_box_is_attached_and_cited(browser, app_url):
    page = browser.new_page()
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    dropped = page.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["# Bees\\n\\nA healthy hive holds about 40,000 worker bees in midsummer.\\n"], "bees.md",
                              {type: "text/markdown"}));
        return dt;
    }""")
    with page.expect_response(lambda r: "/gradio_api/upload" in r.url and r.ok, timeout=20_000):
        for event in ("dragenter", "dragover", "drop"):
            page.dispatch_event("#qa-input .full-container", event, {"dataTransfer": dropped})
    page.wait_for_timeout(300)
    box = page.locator("#qa-input textarea")
    box.fill("How many worker bees does a healthy hive hold?")
    box.press("Enter")
    page.wait_for_selector("#qa-chat :text('Added bees.md')", timeout=120_000)
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    assert "uploads/bees.md" in page.locator("#qa-chat .qa-card").first.inner_text()
    page.close()


# Each line tries a different way to run code or fetch something from a document's own text.
HOSTILE_DOC = """# Harbour notes

The harbour master keeps the tide tables. <script>window.__pwned = 'script'; alert('script')</script> The tide rises 4 metres at spring tides.

An image follows. <img src=x onerror="window.__pwned = 'img'"> The ferry fee is 12 euros per car.

A [tide office link](javascript:window.__pwned='md-link') and <a href="javascript:window.__pwned='a'">another one</a> sit here.

![pixel](x" onerror="window.__pwned='md-img') and ![remote](http://127.0.0.1:9/pixel.png) are pictures.

<details open><summary>hidden</summary><iframe src="javascript:parent.__pwned='iframe'"></iframe></details> <svg onload="window.__pwned='svg'"></svg>

**Bold** `code` and $$x^2$$ and <style>body{display:none}</style> The lighthouse was built in 1874.
"""


def test_a_hostile_document_is_shown_as_text_and_nothing_in_it_runs(browser, app_url, tmp_path):
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(app_url[0])
    page.wait_for_selector("#qa-status :text('Ready')", timeout=120_000)
    doc = tmp_path / "harbour.md"
    doc.write_text(HOSTILE_DOC, encoding="utf-8")
    page.locator("#qa-input input[type=file]").set_input_files(str(doc))
    box = page.locator("#qa-input textarea")
    box.fill("How high does the tide rise at spring tides?")
    page.wait_for_timeout(500)
    box.press("Enter")
    page.wait_for_selector("#qa-chat :text('Added harbour.md')", timeout=120_000)
    page.wait_for_selector("#qa-chat .qa-card", timeout=60_000)
    _ask(page, "When was the lighthouse built?")
    page.wait_for_function("document.querySelectorAll('#qa-chat .qa-answer, #qa-chat .qa-notfound').length >= 2",
                           timeout=60_000)
    page.wait_for_timeout(1000)  # time for anything that would run to run

    chat = page.locator("#qa-chat")
    assert page.evaluate("window.__pwned") is None and not dialogs
    for tag in ("script", "img", "iframe", "svg", "style", "a[href^='javascript']", "strong", "details details"):
        assert chat.locator(f".qa-answer {tag}, .qa-card {tag}").count() == 0, tag
    shown = chat.text_content()  # the collapsed passages too
    for text in ("<script>", "<img src=x", "[tide office link](javascript:", "![pixel]", "**Bold**", "<style>"):
        assert text in shown, text
    assert not any(":9/pixel.png" in u for u in requests)
    assert page.evaluate("getComputedStyle(document.body).display") != "none"
    page.screenshot(path=str(ARTIFACTS / "hostile-document.png"), full_page=True)
    page.close()
