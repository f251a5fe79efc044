"""The web UI end to end: generated photos through the real census and re-ID into Postgres, a real
Serve app on the session's local Ray, and headless Chromium (Debian's, driven by Playwright)
clicking through the pages. Screenshots land in /tmp/thumper-screens for a person to look at."""
from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import another_classifier_version, missing_tool, running_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENS = Path("/tmp/thumper-screens")
PHOTOS_PER_LOCATION = 24  # 72 photos: more than one gallery page of 60
MAX_DISTANCE = 0.25  # tighter than the default, so the demo embedder leaves several deer to merge
EDITOR, VIEWER = ("ana", "correct horse"), ("cam", "battery staple")  # users of the app (not local-only)
SCRIPT_KEY = "e2e-server-key"

try:
    import playwright.sync_api as sync_api
except ImportError:
    missing_tool("pip install playwright (the test extra)", module=True)
PlaywrightTimeout = sync_api.TimeoutError
if not Path(CHROMIUM).exists():
    missing_tool(f"no browser at {CHROMIUM}: apt-get install chromium (bash .ci/install does)", module=True)
expect = sync_api.expect


def _reid_settings():
    from pipelines.clustering import ClusterSettings
    from pipelines.reid import ReidSettings

    return ReidSettings(cluster=replace(ClusterSettings(), max_distance=MAX_DISTANCE))


@pytest.fixture(scope="module")
def conn(module_db_url):
    from store import connect

    c = connect(module_db_url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def census(ray_cluster, demo_weights, conn, tmp_path_factory):
    """Real data: the census pipeline on Ray, then a re-ID run, into the app's database."""
    from models.synthetic import make_photo_folder
    from pipelines.census import PipelineOptions, run_census
    from pipelines.reid import run_reid
    from store import Store

    root = tmp_path_factory.mktemp("web-photos")
    make_photo_folder(root, photos_per_location=PHOTOS_PER_LOCATION, seed=5)
    w = demo_weights
    run_census(Store(conn), root, PipelineOptions(detector=str(w.detector), classifier=str(w.classifier),
                                                  embedder=str(w.embedder)))
    run_reid(Store(conn), _reid_settings())
    return root


@pytest.fixture(scope="module")
def app_url(census, module_db_url, demo_weights, conn):
    """A running Serve app as a landowner would put on the network: not local-only, with an editor
    and a viewer who log in, and a server key for the endpoint checks below."""
    from store.accounts import Accounts

    for (name, password), role in ((EDITOR, "editor"), (VIEWER, "viewer")):
        Accounts(conn).add_user(name, role, password)
    w = demo_weights
    with running_app(database_url=module_db_url, detector=str(w.detector), classifier=str(w.classifier),
                     embedder=str(w.embedder), api_key=SCRIPT_KEY,
                     max_distance=MAX_DISTANCE) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    shutil.rmtree(SCREENS, ignore_errors=True)
    SCREENS.mkdir(parents=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def browser_page(browser, app_url, login: tuple[str, str] | None, allowed_errors: str | None = None):
    """A fresh browser context (its own cookies), logged in as `login` through the API, or not."""
    context = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    if login:
        r = context.request.post("/api/auth/login", data={"name": login[0], "password": login[1]})
        assert r.ok, r.text()
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: m.type == "error" and not (allowed_errors and re.search(allowed_errors, m.text))
          and errors.append(m.text))
    yield pg
    context.close()
    assert not errors, f"browser errors: {errors}"


@pytest.fixture
def page(browser, app_url):
    with browser_page(browser, app_url, EDITOR) as pg:
        yield pg


def shot(page, name: str, full_page: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=full_page)


def one(conn, sql: str, *params):
    return conn.execute(sql, params).fetchone()[0]


def images_loaded(page, selector: str, expected: int) -> int:
    """How many of these images decoded (a broken thumbnail has naturalWidth 0). Scrolls first,
    since grid images load lazily, then waits up to 30 s for `expected` of them: crops and
    thumbnails are made on first request, slowly on a busy machine."""
    height = page.evaluate("document.body.scrollHeight")
    for y in range(0, height + 800, 800):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    count = "([sel, n]) => [...document.querySelectorAll(sel)].filter(e => e.complete && e.naturalWidth > 0).length"
    try:
        page.wait_for_function(f"args => ({count})(args) >= args[1]", arg=[selector, expected], timeout=30_000)
    except PlaywrightTimeout:
        pass  # the assertion below reports how many did load
    page.evaluate("window.scrollTo(0, 0)")
    return page.evaluate(count, [selector, expected])


# ---- gallery ------------------------------------------------------------------------------
def test_gallery_pages_filters_and_zooms(page, conn):
    total = one(conn, "SELECT count(*) FROM images")
    page.goto("/")
    expect(page.locator("#gallery-total")).to_have_text(f"{total} photos")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(60)
    assert images_loaded(page, ".tile img", 60) == 60
    assert page.locator(".tile rect.box").count() >= 30, "boxes are drawn over the detections"
    shot(page, "01-gallery")

    page.get_by_role("button", name="Older →").click()
    expect(tiles).to_have_count(total - 60)

    hay = one(conn, "SELECT count(*) FROM images i JOIN locations l ON l.id = i.location_id WHERE l.name = 'Hayfield'")
    page.select_option("select[name=location]", "Hayfield")
    expect(page.locator("#gallery-total")).to_have_text(f"{hay} photos")
    expect(tiles).to_have_count(hay)
    assert set(page.locator(".tile .cap span:first-child").all_inner_texts()) == {"Hayfield"}
    assert "location=Hayfield" in page.url and "offset" not in page.url  # a new filter starts at page 1

    bucks = one(conn, "SELECT count(*) FROM images i JOIN locations l ON l.id = i.location_id WHERE l.name = 'Hayfield'"
                      " AND EXISTS (SELECT 1 FROM detections d WHERE d.image_id = i.id AND d.deer_class = 'buck')")
    page.select_option("select[name=deer_class]", "buck")
    expect(page.locator("#gallery-total")).to_have_text(f"{bucks} photos")
    rut = one(conn, "SELECT count(*) FROM images WHERE extract(month FROM taken_at) IN (9, 10, 11, 12, 1)")
    page.get_by_role("button", name="Clear").click()
    page.select_option("select[name=season]", "rut")
    expect(page.locator("#gallery-total")).to_have_text(f"{rut} photos")
    shot(page, "02-gallery-filtered")

    with_deer = page.locator(".tile:has(rect.box)").first
    with_deer.click()
    viewer = page.locator("dialog.viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".box-label").first).to_be_visible()
    viewer.get_by_role("button", name="Zoom in").click()
    expect(viewer.locator(".canvas")).to_have_attribute("style", re.compile(r"width: 150%"))
    assert images_loaded(page, "dialog.viewer img", 1) == 1
    shot(page, "03-viewer-zoomed", full_page=False)  # a modal: what the screen shows
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)


# ---- deer ---------------------------------------------------------------------------------
def test_deer_cards_and_profile(page, conn):
    active = one(conn, "SELECT count(*) FROM deer WHERE status = 'active'")
    page.goto("/#/deer")
    cards = page.locator("a.card")
    expect(cards).to_have_count(min(active, 48))
    assert images_loaded(page, "a.card img", min(active, 48)) == min(active, 48), "each card shows its best crop"
    shot(page, "04-deer-cards")

    top_id, sightings = conn.execute("SELECT id, sightings FROM deer WHERE status = 'active'"
                                     " ORDER BY sightings DESC, id LIMIT 1").fetchone()
    cards.first.click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#/deer/{top_id}")
    expect(page.locator("#sightings-count")).to_have_text(str(sightings))
    expect(page.locator("li.sighting")).to_have_count(min(sightings, 60))
    assert page.locator("svg.timeline circle").count() == sightings
    assert images_loaded(page, "li.sighting img", min(sightings, 60)) == min(sightings, 60), "each sighting shows its crop"
    shot(page, "05-deer-profile")


# ---- corrections --------------------------------------------------------------------------
def _mergeable_pair(conn) -> tuple[int, int]:
    """Two active deer that may be one animal: compatible sexes, never in one photo together."""
    pair = conn.execute(
        """SELECT a.id, b.id FROM deer a JOIN deer b ON a.id <> b.id
           WHERE a.status = 'active' AND b.status = 'active'
             AND (a.sex = 'unknown' OR b.sex = 'unknown' OR a.sex = b.sex)
             AND NOT EXISTS (SELECT 1 FROM detections x JOIN detections y ON x.image_id = y.image_id
                             WHERE x.deer_id = a.id AND y.deer_id = b.id)
             -- no earlier correction on either (another test's "not this deer" would move one out)
             AND NOT EXISTS (SELECT 1 FROM correction_facts f JOIN detections d
                             ON d.id IN (f.detection_id, f.other_detection_id)
                             WHERE d.deer_id IN (a.id, b.id))
           ORDER BY a.sightings, b.sightings DESC LIMIT 1""").fetchone()
    assert pair, "the data leaves two compatible deer to merge"
    return pair


def test_merge_in_the_ui_survives_a_reid_run(page, conn):
    from pipelines.reid import run_reid
    from store import Store

    a, b = _mergeable_pair(conn)
    members = {i for (i,) in conn.execute("SELECT id FROM detections WHERE deer_id = ANY(%s)", ([a, b],))}
    page.goto(f"/#/deer/{a}")
    page.select_option("#merge-form select", str(b))
    page.once("dialog", lambda d: d.accept())
    page.locator("#merge-form").get_by_role("button", name="Merge").click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#/deer/{b}")
    expect(page.locator("#sightings-count")).to_have_text(str(len(members)))
    shot(page, "06-after-merge")
    assert conn.execute("SELECT status, merged_into FROM deer WHERE id = %s", (a,)).fetchone() == ("merged", b)

    run_reid(Store(conn), _reid_settings())  # a fresh clustering of every embedding, corrections as facts

    assert conn.execute("SELECT status, merged_into FROM deer WHERE id = %s", (a,)).fetchone() == ("merged", b)
    after = {i for (i,) in conn.execute("SELECT id FROM detections WHERE deer_id = %s", (b,))}
    assert members <= after, "the merged deer's sightings stay together under the kept deer"
    page.goto(f"/#/deer/{a}")
    expect(page.locator(".note")).to_contain_text("Merged into")
    expect(page.locator("#merge-form")).to_have_count(0)  # a merged deer takes no more corrections
    shot(page, "07-merged-deer")
    page.locator(".note a").click()
    expect(page.locator("#sightings-count")).to_have_text(str(len(after)))
    shot(page, "08-merge-after-reid")


def test_every_correction_button_on_a_profile(page, conn):
    """Rename, split off, move back, not this deer, not a deer: each button, and what it stored."""
    deer_id = one(conn, "SELECT id FROM deer WHERE status IN ('active', 'provisional') AND sightings >= 4"
                        " ORDER BY sightings DESC, id LIMIT 1")
    dets = [i for (i,) in conn.execute("SELECT id FROM detections WHERE deer_id = %s ORDER BY id", (deer_id,))]
    deer_of = lambda det: one(conn, "SELECT deer_id FROM detections WHERE id = %s", det)  # noqa: E731
    toast = page.locator("#toast")
    page.goto(f"/#/deer/{deer_id}")

    page.fill("input[name=name]", "Browser Buck")
    page.get_by_role("button", name="Rename").click()
    expect(toast).to_have_text("Renamed")
    assert one(conn, "SELECT name FROM deer WHERE id = %s", deer_id) == "Browser Buck"

    page.get_by_label(f"Select sighting {dets[0]} for split").check()
    page.get_by_role("button", name="Split off 1 selected").click()
    expect(toast).to_have_text("Split off as a new deer")
    new = deer_of(dets[0])
    assert new != deer_id
    expect(page).to_have_url(re.compile(rf"#/deer/{new}$"))
    expect(page.locator("#sightings-count")).to_have_text("1")  # the new deer's page, not the old one

    sighting = page.locator(f"li.sighting[data-detection-id='{dets[0]}']")
    sighting.locator("summary", has_text="Move to").click()
    sighting.get_by_label("Move to deer").select_option(str(deer_id))
    sighting.get_by_role("button", name="Move", exact=True).click()
    expect(toast).to_have_text(f"Moved to deer #{deer_id}")
    assert deer_of(dets[0]) == deer_id

    page.goto(f"/#/deer/{deer_id}")
    expect(page.locator(f"li.sighting[data-detection-id='{dets[0]}']")).to_have_count(1)  # moved back
    card = page.locator(f"li.sighting[data-detection-id='{dets[0]}']")
    card.get_by_text("It is a…").click()
    card.get_by_label(f"Class of sighting {dets[0]}").select_option("fawn")
    card.get_by_role("button", name="Set", exact=True).click()
    expect(toast).to_have_text("Marked fawn")
    assert conn.execute("SELECT deer_class, age_class FROM detections WHERE id = %s", (dets[0],)).fetchone() == (
        "fawn", "fawn")
    assert one(conn, "SELECT count(*) FROM correction_facts WHERE kind = 'class' AND detection_id = %s", dets[0]) == 1
    page.locator(f"li.sighting[data-detection-id='{dets[1]}']").get_by_role("button", name="Not this deer").click()
    expect(toast).to_have_text("Marked not this deer")
    assert deer_of(dets[1]) is None
    page.locator(f"li.sighting[data-detection-id='{dets[2]}']").get_by_role("button", name="Not a deer").click()
    expect(toast).to_have_text("Marked not a deer")
    assert one(conn, "SELECT count(*) FROM correction_facts WHERE kind = 'not_deer' AND detection_id = %s",
               dets[2]) == 1
    expect(page.locator(f"li.sighting[data-detection-id='{dets[2]}']")).to_have_count(0)
    shot(page, "09-every-correction")


def test_review_queue_confirms_a_match(page, conn):
    page.goto("/#/review")
    match = page.locator("li.review[data-kind=match]").first
    expect(match).to_be_visible()
    bucks = page.request.get("/api/web/review").json()["bucks"]
    expect(page.locator("#review-bucks")).to_contain_text(
        f"buck count {bucks['if_all_same']} if all are the same deer, {bucks['if_none']} if none" if bucks["pairs_left"]
        else f"No buck pairs left to review (buck profiles: {bucks['buck_profiles']})")
    assert images_loaded(page, "li.review img", 2) >= 2
    shot(page, "10-review")
    facts = one(conn, "SELECT count(*) FROM corrections WHERE kind = 'same_deer' AND note = 'confirmed in review'")
    match.get_by_role("button", name="Same deer", exact=True).click()
    expect(page.locator("#toast")).to_have_text("Same deer")
    assert one(conn, "SELECT count(*) FROM corrections WHERE kind = 'same_deer' AND note = 'confirmed in review'") == facts + 1


# ---- census and processing ----------------------------------------------------------------
def _shows_the_estimate(page, api: dict) -> None:
    """The Census page's headline figures are the API's: each point (one decimal), or its refusal."""
    for k in ("bucks", "does", "fawns", "total"):
        figure, shown = api["figures"][k], page.locator(f"#census-{k}")
        if figure["refused"]:
            expect(shown).to_have_text("—")
            expect(page.locator("#census-refused")).to_contain_text(figure["refused"])
        else:
            expect(shown).not_to_have_text("—")
            assert abs(float(shown.inner_text()) - figure["point"]) <= 0.05 + 1e-9, (k, shown.inner_text(), figure)
    expect(page.locator("#census-bucks-confirmed")).to_have_text(str(api["roster"]["confirmed"]))
    expect(page.locator("#census-bucks-automatic")).to_have_text(str(api["roster"]["automatic"]))


def test_census_dashboard(page, conn):
    page.goto("/#/census")
    expect(page.locator("#census-total")).to_be_visible()
    api = page.request.get("/api/census/estimate").json()
    _shows_the_estimate(page, api)
    # profiles: buck profiles are individuals; the rest are shown as not individually identifiable
    bucks = one(conn, "SELECT count(*) FROM deer WHERE status = 'active' AND sex = 'male'")
    expect(page.locator("#census-buck-profiles")).to_have_text(str(bucks))
    others = one(conn, "SELECT count(*) FROM deer WHERE status = 'active' AND sex <> 'male'")
    expect(page.locator("#census-other-profiles")).to_have_text(str(others))
    expect(page.locator("main")).to_contain_text("not individually identifiable")
    locations = one(conn, "SELECT count(*) FROM locations")
    # the estimate's interval bars (unless every figure was refused) and buck profiles by age, then one
    # hour chart and one month chart per location
    shown = any(api["figures"][k]["refused"] is None for k in ("bucks", "does", "fawns", "total"))
    expect(page.locator("figure.chart-box")).to_have_count(int(shown) + 1 + 2 * locations)
    if shown:
        assert "Total: " in page.locator("svg.intervals").get_attribute("aria-label")
    assert page.locator("svg.chart rect").count() > 24
    # effort: the page's trap-nights per site are the API's, with one row per location and all sites
    effort = page.request.get("/api/effort").json()
    expect(page.locator("table.effort tbody tr")).to_have_count(locations + 1)
    for s in effort["sites"]:
        assert float(page.locator(f"[data-trap-nights='{s['site']}']").inner_text()) == s["trap_nights"]
    shot(page, "10-census")
    # the rut at one site: the figures follow the controls, and are the API's for that window
    site = one(conn, "SELECT name FROM locations ORDER BY name LIMIT 1")
    controls = page.get_by_role("form", name="Survey window and site")
    controls.locator("select[name=location]").select_option(site)
    controls.locator("select[name=season]").select_option("rut")
    page.get_by_role("button", name="Estimate").click()
    api = page.request.get("/api/census/estimate", params={"location": site, "season": "rut"}).json()
    assert api["window"]["name"].startswith("rut-") and api["location"] == site
    expect(page.locator("#census-window")).to_contain_text(f"{site}, {api['window']['start']} to {api['window']['end']}")
    _shows_the_estimate(page, api)
    assert page.url.endswith(f"#/census?location={site}&season=rut")
    shot(page, "10-census-rut")


def test_processing_page(page, conn):
    page.goto("/#/processing")
    completed = one(conn, "SELECT count(*) FROM images WHERE status = 'completed'")
    expect(page.locator("[data-status=completed]")).to_have_text(str(completed))
    expect(page.locator("table.runs tbody tr").first).to_be_visible()
    shot(page, "11-processing")


# ---- the endpoints behind the pages --------------------------------------------------------
def test_thumbnails_are_made_once_and_cached(app_url, conn):
    from store.embedded import data_dir

    image_id, sha = conn.execute("SELECT id, sha256 FROM images ORDER BY id LIMIT 1").fetchone()
    with httpx.Client(base_url=app_url, timeout=60, headers={"X-API-Key": SCRIPT_KEY}) as c:
        first = c.get(f"/api/images/{image_id}/thumbnail", params={"size": 160})
        assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
        cached = data_dir() / "thumbnails" / f"{sha}_160.jpg"
        assert cached.read_bytes() == first.content
        mtime = cached.stat().st_mtime_ns
        assert c.get(f"/api/images/{image_id}/thumbnail", params={"size": 160}).content == first.content
        assert cached.stat().st_mtime_ns == mtime  # served from the cache, not made again
        assert c.get(f"/api/images/{image_id}/thumbnail", params={"size": 333}).status_code == 422
        assert c.get("/api/images/999999999/thumbnail").status_code == 404
        det = one(conn, "SELECT id FROM detections LIMIT 1")
        crop = c.get(f"/api/detections/{det}/crop")
        assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"
        # a traversal must reach the guard unnormalised (httpx folds "/ui/../x" before sending it),
        # and aim at a file the guard alone stops: an .html beside static/, which would be served
        from serve_apps.web.pages import STATIC

        outside = STATIC.parent / "outside-static.html"
        outside.write_text("<p>not a page of the app</p>")
        try:
            for raw in ("/ui/%2e%2e/outside-static.html", "/ui/js/%2e%2e/%2e%2e/outside-static.html",
                        "/ui/..%2foutside-static.html"):
                r = c.get(raw)
                assert r.status_code == 404 and "not a page" not in r.text, (raw, r.status_code)
            assert c.get("/ui/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd").status_code == 404
        finally:
            outside.unlink()
        assert c.get("/ui/js/app.js").headers["content-type"].startswith("text/javascript")
        assert "path" not in c.get("/api/web/gallery", params={"limit": 1}).json()["items"][0]


# ---- logging in ---------------------------------------------------------------------------
# the browser logs each refused request (401 before login, 403 for the viewer) as a console error
REFUSED = r"status of (401|403)"


def test_login_page_logs_in_and_out(browser, app_url):
    with browser_page(browser, app_url, None, allowed_errors=REFUSED) as pg:
        pg.goto("/#/deer")
        expect(pg).to_have_url(re.compile(r"#/login\?next=%23%2Fdeer$"))  # nothing shown before login
        expect(pg.get_by_role("heading", name="Log in")).to_be_visible()
        assert pg.locator("a.card").count() == 0
        pg.get_by_label("Name").fill(EDITOR[0])
        pg.get_by_label("Password").fill("wrong horse")
        pg.get_by_role("button", name="Log in").click()
        expect(pg.get_by_role("alert")).to_have_text("Wrong name or password.")
        pg.get_by_label("Password").fill(EDITOR[1])
        pg.get_by_role("button", name="Log in").click()
        expect(pg).to_have_url(re.compile(r"#/deer$"))  # back where the user was going
        expect(pg.locator("a.card").first).to_be_visible()
        expect(pg.locator("#who .user")).to_have_text("ana (editor)")
        cookie = next(c for c in pg.context.cookies() if c["name"] == "thumper_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert pg.evaluate("document.cookie") == ""  # the page's scripts cannot read it
        shot(pg, "12-logged-in")
        pg.get_by_role("button", name="Log out").click()
        expect(pg.get_by_role("heading", name="Log in")).to_be_visible()
        expect(pg.locator("#who")).to_be_empty()
        assert not [c for c in pg.context.cookies() if c["name"] == "thumper_session"]
        pg.goto("/#/gallery")  # logged out means out: the next page asks again
        expect(pg.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_viewer_sees_the_herd_but_cannot_correct_it(browser, app_url, conn):
    deer_id, name = conn.execute("SELECT id, name FROM deer WHERE status = 'active' ORDER BY id LIMIT 1").fetchone()
    facts = one(conn, "SELECT count(*) FROM corrections")
    with browser_page(browser, app_url, VIEWER, allowed_errors=REFUSED) as pg:
        pg.goto(f"/#/deer/{deer_id}")
        expect(pg.locator("#who .user")).to_have_text("cam (viewer)")
        pg.get_by_label("Name", exact=True).fill("Viewer was here")
        pg.get_by_role("button", name="Rename").click()
        expect(pg.locator("#toast")).to_contain_text("cam is a viewer")
        shot(pg, "13-viewer-refused")
    assert one(conn, "SELECT count(*) FROM corrections") == facts
    assert conn.execute("SELECT name FROM deer WHERE id = %s", (deer_id,)).fetchone()[0] == name


# ---- models and who said what -------------------------------------------------------------
@pytest.fixture(scope="module")
def second_classifier(census, conn, demo_weights, tmp_path_factory) -> dict:
    """The census registered the demo models (the first of each kind is active); a fine-tuned
    child of the classifier, as `thumper train classifier` would register it, to activate."""
    from models.files import file_sha256
    from pipelines.model_versions import version_of
    from store import Store

    store = Store(conn)
    parent = store.models.active("classifier")
    child = another_classifier_version(demo_weights.classifier, tmp_path_factory.mktemp("models"), "demo-classifier-ft")
    sha = file_sha256(child)
    child_id = store.models.register(
        "classifier", name="demo-classifier-ft", version=version_of(child, sha), sha256=sha, path=str(child),
        parent_id=parent["id"], data={"train": 140, "held_out": 60, "sources": {"class": 120, "profile": 80}},
        metrics={"held_out": {"accuracy": 0.9, "crops": 60}, "parent_held_out": {"accuracy": 0.5, "crops": 60},
                 "better": True})
    return {"parent": parent, "child": store.models.get(child_id)}


def _active_mark(page, version_id: int):
    return page.locator(f"table.models tr[data-version-id='{version_id}'] td[data-active]")


def test_models_page_lists_versions_and_activates_one(page, conn, second_classifier, demo_weights, tmp_path):
    import hashlib

    from store import Store

    parent, child = second_classifier["parent"], second_classifier["child"]
    # an embedder version as `thumper train embedder` registers it: scored by re-ID pairwise P / R
    tuned = tmp_path / "demo-embedder-ft.pt"
    tuned.write_bytes(b"not loaded by the page" + tmp_path.name.encode())
    embedder_parent = Store(conn).models.active("embedder")
    pair = lambda p, r, f1: {"threshold": 0.7, "precision": p, "recall": r, "f1": f1}  # noqa: E731
    tuned_id = Store(conn).models.register(
        "embedder", name="demo-embedder-ft", version=f"demo-embedder-ft@{tmp_path.name[:12]}",
        sha256=hashlib.sha256(tuned.read_bytes()).hexdigest(), path=str(tuned), parent_id=embedder_parent["id"],
        data={"train": 162, "held_out": 87}, metrics={"held_out": pair(0.358, 0.432, 0.392),
                                                      "parent_held_out": pair(0.278, 0.913, 0.426), "better": False})
    page.goto("/#/models")
    tuned_row = page.locator(f"table.models[data-kind=embedder] tr[data-version-id='{tuned_id}']")
    expect(tuned_row.locator(".pairwise")).to_have_text("P 0.358 R 0.432 F1 0.392")
    expect(tuned_row.locator(".parent-pairwise")).to_contain_text("P 0.278 R 0.913")
    expect(tuned_row).to_contain_text("not better than its parent")
    registered = one(conn, "SELECT count(*) FROM model_versions")
    expect(page.locator("table.models tbody tr")).to_have_count(registered)
    for kind in ("detector", "classifier", "embedder"):
        expect(page.locator(f"table.models[data-kind={kind}] tbody tr")).to_have_count(
            one(conn, "SELECT count(*) FROM model_versions WHERE kind = %s", kind))
    row = page.locator(f"table.models tr[data-version-id='{child['id']}']")
    expect(row).to_contain_text(child["version"])
    expect(row).to_contain_text(f"#{parent['id']} {parent['version']}")  # its parent
    expect(row.locator(".accuracy")).to_have_text("0.900")
    expect(row.locator(".parent-accuracy")).to_have_text("0.500")
    expect(row).to_contain_text("140 train / 60 held out")
    expect(_active_mark(page, parent["id"])).to_have_attribute("data-active", "yes")
    expect(_active_mark(page, child["id"])).to_have_attribute("data-active", "no")
    # the e2e app's classifier is a path, not 'latest': the page says activations do not reach uploads
    expect(page.locator("#serving")).to_contain_text("not 'latest'")
    expect(page.locator("#serving")).to_contain_text(f"'file {demo_weights.classifier.name}'")
    assert str(demo_weights.classifier.parent) not in page.locator("main").inner_text()  # never a server path
    shot(page, "16-models")

    page.get_by_role("button", name=f"Activate version {child['id']}").click()
    expect(page.locator("#toast")).to_contain_text(f"Version {child['id']} is the active classifier")
    expect(page.locator("#toast")).to_contain_text("not 'latest': uploads keep theirs")
    assert str(demo_weights.classifier.parent) not in page.locator("#toast").inner_text()
    expect(_active_mark(page, child["id"])).to_have_attribute("data-active", "yes")
    expect(_active_mark(page, parent["id"])).to_have_attribute("data-active", "no")
    api = {v["id"]: v["active"] for v in page.request.get("/api/models").json()["versions"]}
    assert api[child["id"]] and not api[parent["id"]]
    assert one(conn, "SELECT id FROM model_versions WHERE kind = 'classifier' AND active") == child["id"]
    page.get_by_role("button", name=f"Activate version {parent['id']}").click()  # back, for the tests after
    expect(_active_mark(page, parent["id"])).to_have_attribute("data-active", "yes")
    assert one(conn, "SELECT id FROM model_versions WHERE kind = 'classifier' AND active") == parent["id"]


def test_train_classifier_button_follows_its_job(page, conn):
    versions = one(conn, "SELECT count(*) FROM model_versions")
    page.goto("/#/models")
    page.get_by_role("button", name="Train classifier").click()
    expect(page.locator("#toast")).to_have_text("Training job submitted")
    status = page.locator("#job-status")
    expect(status).to_have_text(re.compile(r"PENDING|RUNNING|SUCCEEDED|FAILED"))
    expect(page.locator("#train-job")).to_contain_text("Ray dashboard")
    job_id = re.search(r"Job (\S+):", page.locator("#train-job p").first.inner_text()).group(1)
    page.request.post(f"/api/jobs/{job_id}/stop", headers={"X-API-Key": SCRIPT_KEY})  # no training run in the UI tests
    expect(status).to_have_text(re.compile(r"STOPPED|FAILED|SUCCEEDED"), timeout=120_000)  # polled till it ended
    shot(page, "17-models-train-job")
    assert one(conn, "SELECT count(*) FROM model_versions") == versions


def test_a_viewer_sees_the_models_without_buttons(browser, app_url, conn, second_classifier):
    with browser_page(browser, app_url, VIEWER) as pg:
        pg.goto("/#/models")
        expect(pg.locator("table.models tbody tr")).to_have_count(one(conn, "SELECT count(*) FROM model_versions"))
        expect(pg.locator(f"table.models tr[data-version-id='{second_classifier['child']['id']}']")).to_be_visible()
        expect(pg.get_by_role("button", name=re.compile("^Activate"))).to_have_count(0)
        expect(pg.get_by_role("button", name="Train classifier")).to_have_count(0)
        expect(pg.get_by_role("button", name="Train embedder")).to_have_count(0)
        expect(pg.locator("main button")).to_have_count(0)


def test_the_viewer_says_which_version_said_what(page, conn):
    """Each detection in the photo viewer: the detector, classifier and embedder versions that made
    it, and whether its class is the classifier's answer or a person's correction."""
    det, image_id, deer_id = conn.execute(
        "SELECT d.id, d.image_id, d.deer_id FROM detections d WHERE d.deer_id IS NOT NULL"
        " AND d.classifier_version IS NOT NULL AND d.class_label IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM correction_facts f WHERE f.detection_id = d.id)"
        " AND (SELECT sightings FROM deer WHERE id = d.deer_id) <= 60"  # on the first page of its sightings
        " AND EXISTS (SELECT 1 FROM detections o WHERE o.image_id = d.image_id AND o.id <> d.id)"
        " ORDER BY d.id LIMIT 1").fetchone()
    other = one(conn, "SELECT id FROM detections WHERE image_id = %s AND id <> %s ORDER BY id LIMIT 1", image_id, det)
    r = page.request.post(f"/api/detections/{det}/class", data={"deer_class": "buck", "age_class": "mature"},
                          headers={"X-API-Key": SCRIPT_KEY})
    assert r.ok, r.text()
    said = {i: conn.execute("SELECT detector_version, classifier_version, embedder_version, class_label FROM detections"
                            " WHERE id = %s", (i,)).fetchone() for i in (det, other)}
    other_corrected = one(conn, "SELECT count(*) FROM correction_facts WHERE kind IN ('class', 'not_deer')"
                                " AND detection_id = %s", other) > 0

    def check(viewer):
        for i, corrected in ((det, True), (other, other_corrected)):
            detector, classifier, embedder, label = said[i]
            item = viewer.locator(f".viewer-details li[data-detection-id='{i}']")
            versions = item.locator(".versions")
            expect(versions).to_contain_text(f"detector {detector}")
            if classifier:
                expect(versions).to_contain_text(f"classifier {classifier}")
            if embedder:
                expect(versions).to_contain_text(f"embedder {embedder}")
            if corrected:
                expect(item.locator(".said")).to_contain_text("a person's correction")
            elif label:
                expect(item.locator(".said")).to_contain_text("the classifier's answer")
        model_said = re.escape(said[det][3].replace("_", " "))
        expect(viewer.locator(f".viewer-details li[data-detection-id='{det}'] .said")).to_have_text(
            re.compile(rf"^mature buck: a person's correction \(the classifier said {model_said}"))

    # from a deer's sighting (GET /api/images/ID) ...
    page.goto(f"/#/deer/{deer_id}")
    page.get_by_role("button", name=f"Open the photo of sighting {det}").click()
    viewer = page.locator("dialog.viewer")
    check(viewer)
    shot(page, "18-viewer-versions", full_page=False)
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    # ... and from the gallery (GET /api/web/gallery)
    page.goto(f"/#/gallery?deer_id={deer_id}")
    page.locator(f".tile[data-image-id='{image_id}']").click()
    check(page.locator("dialog.viewer"))


# ---- cameras (last: it moves photo times, and puts them back) --------------------------------
def test_cameras_page_fixes_a_clock_and_undoes_it(page, conn):
    dep, photos = conn.execute("SELECT deployment_id, count(*) FROM images GROUP BY 1 ORDER BY 1 LIMIT 1").fetchone()
    before = conn.execute("SELECT id, taken_at FROM images WHERE deployment_id = %s ORDER BY id", (dep,)).fetchall()
    page.goto("/#/cameras")
    expect(page.locator("table.cameras tbody tr")).to_have_count(one(conn, "SELECT count(*) FROM deployments"))
    expect(page.locator("table.effort tbody tr").last).to_contain_text("all sites")
    shot(page, "14-cameras")
    page.get_by_role("link", name=f"#{dep}", exact=True).click()
    page.get_by_label("Fix", exact=True).select_option("offset")
    page.get_by_label("By", exact=True).fill("+1h")
    page.get_by_label("Note", exact=True).fill("clock set an hour slow")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#toast")).to_have_text(f"Clock fixed: {photos} photos moved")
    expect(page.locator("ul.fixes li")).to_contain_text("offset +1:00:00 (clock set an hour slow)")
    after = conn.execute("SELECT id, taken_at FROM images WHERE deployment_id = %s ORDER BY id", (dep,)).fetchall()
    assert [t for _, t in after] == [t + timedelta(hours=1) for _, t in before]
    shot(page, "15-camera-fixed")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#toast")).to_have_text(f"Undone: {photos} photos moved")
    assert conn.execute("SELECT id, taken_at FROM images WHERE deployment_id = %s ORDER BY id", (dep,)).fetchall() == before
    page.get_by_label("Latitude").fill("44.51")
    page.get_by_label("Longitude").fill("-89.57")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_have_text("Saved")
    assert conn.execute("SELECT latitude, longitude FROM deployments WHERE id = %s", (dep,)).fetchone() == (44.51, -89.57)
