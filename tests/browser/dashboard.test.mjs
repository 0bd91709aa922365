// The dashboard, end to end, in real headless Chromium against a real linkwire and real receivers.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { after, before, test } from "node:test";
import { ARTIFACTS, launchBrowser, screenshot, startLinkwire, startReceiver, waitUntil } from "./harness.mjs";

const OWNER = { email: "owner@example.com", password: "correct horse battery staple" };
const VIEWER = { email: "viewer@example.com", password: "viewer password 123" };

let lw, receiver, browser, owner, ownerPage;
/** Endpoints created through the UI, by role in the story. */
const ids = {};

before(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  lw = await startLinkwire();
  receiver = await startReceiver();
  lw.createMember(OWNER.email, "owner", OWNER.password);
  lw.createMember(VIEWER.email, "viewer", VIEWER.password);
  browser = await launchBrowser();
  owner = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  owner.setDefaultTimeout(10_000);
  ownerPage = await owner.newPage();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  lw?.stop();
});

async function signIn(page, { email, password }) {
  await page.goto(`${lw.baseUrl}/dashboard`);
  assert.match(page.url(), /\/dashboard\/login\?next=/, "an anonymous visit goes to the sign-in page");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${lw.baseUrl}/dashboard`);
}

/** The CSRF token of the page's sign-out form (every signed-in page has one). */
const csrfOf = (page) => page.locator('form[action="/dashboard/logout"] input[name="_csrf"]').inputValue();

/** POSTs a form from inside the page (the browser sends the session cookie): its status, or "redirect". */
const postFromPage = (page, path, fields) =>
  page.evaluate(
    async ({ path, fields }) => {
      const res = await fetch(path, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
      // A followed form ends in a redirect (opaque to fetch); a refusal is a real status.
      return res.type === "opaqueredirect" ? "redirect" : res.status;
    },
    { path, fields },
  );

async function endpointEnabled(id) {
  const { body } = await lw.api("GET", `/api/v1/webhooks/endpoints/${id}`);
  return body.endpoint.enabled;
}

const deliveriesOf = async (id, status) =>
  (await lw.api("GET", `/api/v1/webhooks/endpoints/${id}/deliveries${status ? `?status=${status}` : ""}`)).body.deliveries;

test("sign in with the keyboard, see who is signed in, sign out, and a wrong password is refused", async () => {
  const page = await browser.newPage();
  await page.goto(`${lw.baseUrl}/dashboard/login`);
  await screenshot(page, "login");
  // Keyboard only: the email field has focus on arrival; Tab moves to the password; Enter submits.
  assert.equal(await page.evaluate(() => document.activeElement.id), "email");
  await page.keyboard.type(OWNER.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type("not the password");
  await page.keyboard.press("Enter");
  await page.waitForLoadState();
  assert.match(await page.getByTestId("error").innerText(), /do not match/);
  await screenshot(page, "login-refused");

  await page.getByLabel("Password").fill(OWNER.password);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${lw.baseUrl}/dashboard`);
  assert.equal(await page.getByTestId("role").innerText(), "owner");
  // On every signed-in page the first Tab offers to skip the navigation.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  const cookie = (await page.context().cookies()).find((c) => c.name === "lw_session");
  assert.ok(cookie.httpOnly, "the session cookie is HttpOnly");
  assert.equal(cookie.sameSite, "Lax");
  assert.equal(cookie.path, "/dashboard");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/dashboard\/login\?notice=signed_out/);
  assert.match(await page.getByTestId("notice").innerText(), /signed out/);
  await page.goto(`${lw.baseUrl}/dashboard/webhooks`);
  assert.match(page.url(), /\/dashboard\/login\?next=%2Fdashboard%2Fwebhooks/, "the old session no longer works");
  await page.close();

  await signIn(ownerPage, OWNER);
});

test("add an endpoint and see its secret exactly once; test-send, edit and rotate it", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/dashboard/webhooks`);
  await screenshot(page, "webhooks-empty");
  await page.getByRole("link", { name: "Add endpoint" }).click();
  await page.getByLabel("Endpoint URL").fill(`${receiver.url}/crm`);
  await page.getByLabel("Name (optional)").fill("CRM");
  await page.getByLabel(/^link\.created/).check();
  await page.getByLabel(/^link\.updated/).check();
  // Click events are plan-gated: the form marks them with the plan they need.
  assert.match(await page.locator('label[for="type-link.clicked"]').innerText(), /professional\+/);
  await screenshot(page, "webhook-new");
  await page.getByRole("button", { name: "Add endpoint" }).click();

  const secret = await page.getByTestId("secret").inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/);
  assert.match(await page.locator(".warning").innerText(), /only time it is shown/);
  await screenshot(page, "webhook-secret");
  await page.getByRole("link", { name: "Go to the endpoint" }).click();
  ids.crm = page.url().split("/").pop();
  const html = await page.content();
  assert.ok(!html.includes(secret), "the endpoint page does not show the secret again");
  await page.goto(`${lw.baseUrl}/dashboard/webhooks`);
  assert.ok(!(await page.content()).includes(secret), "neither does the list");
  assert.ok((await page.getByTestId("endpoints").innerText()).includes("CRM"));
  await screenshot(page, "webhooks");

  // Send a test event from the endpoint page: the result appears inline.
  await page.getByRole("link", { name: "CRM" }).click();
  await page.getByRole("button", { name: "Send test event" }).click();
  await page.getByTestId("test-result").waitFor();
  assert.equal(await page.getByTestId("test-status").innerText(), "200");
  assert.match(await page.getByTestId("test-result").innerText(), /Test event delivered/);
  await screenshot(page, "endpoint-test-result");

  const test = receiver.received.find((r) => r.path === "/crm" && r.json?.type === "nim.webhook.test");
  assert.ok(test, "the receiver got nim.webhook.test");
  assert.equal(test.headers["x-nim-delivery-reason"], "test");
  const ts = test.headers["x-nim-timestamp"];
  const expected = createHmac("sha256", secret).update(`${ts}.${test.body}`).digest("hex");
  assert.ok(test.headers["x-nim-signature"].split(",").includes(`v1=${expected}`), "signed with the secret shown once");

  // Edit: a new name, one event type fewer.
  await page.getByText("Edit endpoint").click();
  await page.getByLabel("Name", { exact: true }).fill("CRM (production)");
  await page.getByLabel(/^link\.updated/).uncheck();
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/notice=saved/);
  assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "CRM (production)");
  const { body } = await lw.api("GET", `/api/v1/webhooks/endpoints/${ids.crm}`);
  assert.deepEqual(body.endpoint.subscriptions, ["link.created"]);

  // Rotate with an overlap: the new secret is shown once, and both secrets sign the next test event.
  await page.getByLabel("Old secret keeps signing for").selectOption("24");
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Rotate secret" }).click();
  const rotated = await page.getByTestId("secret").inputValue();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, secret);
  await screenshot(page, "webhook-rotated");
  await page.getByRole("link", { name: "Go to the endpoint" }).click();
  await page.getByRole("button", { name: "Send test event" }).click();
  await page.getByTestId("test-result").waitFor();
  const second = receiver.received.filter((r) => r.path === "/crm" && r.json?.type === "nim.webhook.test").at(-1);
  const sign = (key) => `v1=${createHmac("sha256", key).update(`${second.headers["x-nim-timestamp"]}.${second.body}`).digest("hex")}`;
  assert.equal(second.headers["x-nim-signature"], `${sign(rotated)},${sign(secret)}`, "new secret first, old one during the overlap");
});

test("a failing endpoint's dead-lettered delivery is replayed from its history, one and all", async () => {
  const page = ownerPage;
  receiver.statusFor["/flaky"] = 503;
  await page.goto(`${lw.baseUrl}/dashboard/webhooks/new`);
  await page.getByLabel("Endpoint URL").fill(`${receiver.url}/flaky`);
  await page.getByLabel("Name (optional)").fill("Flaky warehouse");
  await page.getByLabel(/^link\.created/).check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await page.getByRole("link", { name: "Go to the endpoint" }).click();
  ids.flaky = page.url().split("/").pop();

  // A link created in the dashboard emits link.created to both endpoints.
  await page.goto(`${lw.baseUrl}/dashboard/links`);
  await page.getByLabel("Destination URL").fill("https://example.com/launch?utm_source=mail");
  await page.getByLabel("Custom slug (optional)").fill("launch");
  await page.getByRole("button", { name: "Create link" }).click();
  await page.waitForURL(/\/dashboard\/links\/[0-9a-f-]+\?notice=created/);

  const [dead] = await waitUntil("the flaky delivery to be dead-lettered", async () => {
    const list = await deliveriesOf(ids.flaky, "dead_letter");
    return list.length ? list : null;
  });
  assert.equal(receiver.received.filter((r) => r.path === "/flaky").length, 6, "six attempts, then dead letter");

  await page.goto(`${lw.baseUrl}/dashboard/webhooks/${ids.flaky}`);
  assert.equal(await page.getByTestId("dead-letter-items").innerText(), "1");
  await page.getByLabel("Status").selectOption("dead_letter");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=dead_letter/);
  const rows = page.getByTestId("deliveries").locator("tbody tr");
  assert.equal(await rows.count(), 1);
  await screenshot(page, "endpoint-history-dead-letter");
  await rows.first().getByRole("link").click();
  const attempts = page.getByTestId("attempts").locator("tbody tr");
  assert.equal(await attempts.count(), 6);
  assert.match(await attempts.nth(0).innerText(), /503/);
  assert.match(await page.getByTestId("delivery-status").innerText(), /dead letter/);
  await screenshot(page, "delivery-attempts");

  receiver.statusFor["/flaky"] = 200;
  await page.getByRole("button", { name: "Replay this delivery" }).click();
  await page.waitForURL(/\/dashboard\/deliveries\/[0-9a-f-]+\?notice=replayed/);
  const replayed = await waitUntil("the replay to arrive", () =>
    receiver.received.find((r) => r.path === "/flaky" && r.headers["x-nim-delivery-reason"] === "replay"),
  );
  assert.equal(replayed.json.id, dead.event_id, "the replay carries the same event id");
  await waitUntil("the replay to be recorded as delivered", async () => {
    await page.reload();
    return /delivered/.test(await page.getByTestId("delivery-status").innerText());
  });
  await screenshot(page, "delivery-replayed");

  // The original is still a dead letter; "replay all" queues it once more.
  await page.goto(`${lw.baseUrl}/dashboard/webhooks/${ids.flaky}`);
  await page.getByRole("button", { name: "Replay all 1 dead-lettered" }).click();
  await page.waitForURL(/notice=replayed_all/);
  await waitUntil("the second replay to arrive", () =>
    receiver.received.filter((r) => r.path === "/flaky" && r.json?.id === dead.event_id && r.headers["x-nim-delivery-reason"] === "replay").length === 2,
  );

  // "Retry waiting now" answers with a confirmation (nothing is waiting here; the API test covers the rest).
  await page.getByRole("button", { name: "Retry waiting now" }).click();
  await page.waitForURL(/notice=retrying/);
  assert.match(await page.getByTestId("notice").innerText(), /being sent now/);
});

test("disable and enable an endpoint", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/dashboard/webhooks/${ids.crm}`);
  await page.getByRole("button", { name: "Disable" }).click();
  await page.waitForURL(/notice=disabled/);
  assert.match(await page.getByTestId("endpoint-state").innerText(), /disabled/);
  assert.equal(await endpointEnabled(ids.crm), false);
  await screenshot(page, "endpoint-disabled");

  // While disabled, a new event reaches the other subscriber but not this endpoint.
  const { body: first } = await lw.api("POST", "/api/v1/links", { body: { long_url: "https://example.com/while-disabled" } });
  const created = (r) => r.json?.type === "link.created" && r.json.data.link_id === first.link.id;
  await waitUntil("the other endpoint to get the event", () => receiver.received.find((r) => r.path === "/flaky" && created(r)));
  assert.ok(!receiver.received.some((r) => r.path === "/crm" && created(r)), "nothing is sent to a disabled endpoint");

  await page.getByRole("button", { name: "Enable" }).click();
  await page.waitForURL(/notice=enabled/);
  assert.match(await page.getByTestId("endpoint-state").innerText(), /enabled/);
  const { body: second } = await lw.api("POST", "/api/v1/links", { body: { long_url: "https://example.com/after-enable" } });
  await waitUntil("the next event to arrive once enabled", () =>
    receiver.received.find((r) => r.path === "/crm" && r.json?.type === "link.created" && r.json.data.link_id === second.link.id),
  );
});

test("the overview's figures equal the stats API's, with charts for 24 hours and 7 days", async () => {
  const page = ownerPage;
  // Let every delivery settle, so both reads see the same attempts.
  await waitUntil("all deliveries to settle", async () => {
    for (const id of [ids.crm, ids.flaky]) {
      for (const status of ["pending", "delivering"]) if ((await deliveriesOf(id, status)).length) return false;
    }
    return true;
  });
  await page.goto(`${lw.baseUrl}/dashboard`);
  await screenshot(page, "overview");
  for (const hours of [24, 168]) {
    const { body: stats } = await lw.api("GET", `/api/v1/webhooks/stats?window_hours=${hours}`);
    const value = (id) => page.getByTestId(`${id}-${hours}`).getAttribute("data-value");
    assert.equal(Number(await value("attempts")), stats.totals.attempts);
    assert.equal(Number(await value("retries")), stats.totals.retry_attempts);
    assert.equal(Number(await value("dead-lettered")), stats.totals.dead_lettered);
    assert.equal(Number(await value("dead-items")), stats.totals.dead_letter_items);
    assert.equal(Number(await value("success-rate")), stats.totals.success_rate);
    assert.ok(stats.totals.retry_attempts >= 5 && stats.totals.dead_lettered >= 1, "the story produced retries and a dead letter");
    const bars = page.getByTestId(`window-${hours}`).locator("rect.seg-ok");
    assert.ok((await bars.count()) >= 1, "the chart draws delivered attempts");
    assert.ok((await page.getByTestId(`window-${hours}`).locator("rect.seg-retry").count()) >= 1);
  }
  // The phone layout of the same page.
  const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phoneContext.addCookies(await owner.cookies());
  const phone = await phoneContext.newPage();
  for (const [path, name] of [["/dashboard", "overview-phone"], [`/dashboard/webhooks/${ids.flaky}`, "endpoint-phone"]]) {
    await phone.goto(`${lw.baseUrl}${path}`);
    assert.equal(await phone.evaluate(() => window.innerWidth), 390);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path}: no sideways scrolling on a phone (overflow ${overflow}px)`);
    await screenshot(phone, name);
  }
  await phoneContext.close();
});

test("create a link, edit it, download its QR code as SVG and PNG, and see recent clicks", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/dashboard/links`);
  await page.getByLabel("Destination URL").fill("https://example.com/spring");
  await page.getByLabel("Custom slug (optional)").fill("spring");
  await page.getByLabel("Tags (comma-separated)").fill("campaign, spring");
  await page.getByRole("button", { name: "Create link" }).click();
  await page.waitForURL(/\/dashboard\/links\/[0-9a-f-]+\?notice=created/);
  assert.equal(await page.getByTestId("short-url").innerText(), `${lw.baseUrl}/spring`);

  // A human click and a QR scan show up under recent clicks.
  const ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
  for (const suffix of ["", "?nr=qr"]) {
    const res = await fetch(`${lw.baseUrl}/spring${suffix}`, { redirect: "manual", headers: { "user-agent": ua } });
    assert.equal(res.status, 302);
  }
  await waitUntil("two recent clicks", async () => {
    await page.reload();
    return (await page.getByTestId("clicks").locator("tbody tr").count().catch(() => 0)) === 2;
  });
  assert.match(await page.getByTestId("clicks").innerText(), /QR scan/);
  await screenshot(page, "link");

  for (const [testId, check] of [
    ["qr-svg", (bytes) => assert.match(bytes.toString("utf8"), /<svg[\s>]/)],
    ["qr-png", (bytes) => assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10])],
  ]) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
    assert.match(download.suggestedFilename(), /^spring-qr\.(svg|png)$/);
    check(readFileSync(await download.path()));
  }

  await page.getByText("Edit link").click();
  await page.getByLabel("Destination URL").fill("https://example.com/spring-2");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/notice=saved/);
  assert.match(await page.locator(".url").first().innerText(), /spring-2/);
  await page.goto(`${lw.baseUrl}/dashboard/links`);
  assert.match(await page.getByTestId("links").innerText(), /\/spring/);
  await screenshot(page, "links");
});

test("a form submitted without the CSRF token is refused", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/dashboard/webhooks/${ids.crm}`);
  const token = await csrfOf(page);
  assert.equal(await postFromPage(page, `/dashboard/endpoints/${ids.crm}/disable`, {}), 403);
  assert.equal(await postFromPage(page, `/dashboard/endpoints/${ids.crm}/disable`, { _csrf: "0".repeat(token.length) }), 403);
  assert.equal(await endpointEnabled(ids.crm), true);

  // A page on another origin posting the same form in the member's browser is refused too.
  receiver.pages["/evil"] = `<!doctype html><form id="f" method="post" action="${lw.baseUrl}/dashboard/endpoints/${ids.crm}/disable"></form>
    <script>document.getElementById("f").submit()</script>`;
  await page.goto(`${receiver.url}/evil`);
  await page.waitForURL(`${lw.baseUrl}/dashboard/endpoints/${ids.crm}/disable`);
  assert.match(await page.getByTestId("error-message").innerText(), /CSRF/);
  await screenshot(page, "csrf-refused");
  assert.equal(await endpointEnabled(ids.crm), true, "the endpoint is still enabled");
  // The same form with the session's token goes through (so the refusals above were about the token).
  assert.equal(await postFromPage(page, `/dashboard/endpoints/${ids.crm}/disable`, { _csrf: token }), "redirect");
  assert.equal(await endpointEnabled(ids.crm), false);
  assert.equal(await postFromPage(page, `/dashboard/endpoints/${ids.crm}/enable`, { _csrf: token }), "redirect");
});

test("a viewer sees everything and can change nothing", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, VIEWER);
  assert.equal(await page.getByTestId("role").innerText(), "viewer");
  const link = (await lw.api("GET", "/api/v1/links")).body.links[0];
  for (const path of ["/dashboard", "/dashboard/webhooks", `/dashboard/webhooks/${ids.crm}`, "/dashboard/links", `/dashboard/links/${link.id}`, "/dashboard/destinations"]) {
    await page.goto(`${lw.baseUrl}${path}`);
    const forms = await page.locator('form[method="post"]').evaluateAll((fs) => fs.map((f) => f.getAttribute("action")));
    assert.deepEqual(forms, ["/dashboard/logout"], `${path} offers no change to a viewer`);
  }
  await screenshot(page, "viewer-endpoint");
  assert.equal(await page.getByRole("link", { name: "API keys" }).count(), 0);

  // Even a hand-made request with the viewer's own valid token is refused.
  const token = await csrfOf(page);
  for (const [path, fields] of [
    [`/dashboard/endpoints/${ids.crm}/disable`, {}],
    [`/dashboard/endpoints/${ids.crm}/test`, {}],
    ["/dashboard/links", { long_url: "https://example.com/viewer" }],
    ["/dashboard/webhooks", { url: `${receiver.url}/viewer`, event_types: "link.created" }],
    ["/dashboard/api-keys", { name: "viewer key", scopes: "admin" }],
  ]) {
    assert.equal(await postFromPage(page, path, { _csrf: token, ...fields }), 403, `POST ${path}`);
  }
  await page.goto(`${lw.baseUrl}/dashboard/api-keys`);
  assert.equal(await page.title(), "Not allowed · linkwire");
  await screenshot(page, "viewer-refused");
  assert.equal(await endpointEnabled(ids.crm), true);
  assert.equal((await lw.api("GET", "/api/v1/links")).body.links.some((l) => l.long_url.includes("viewer")), false);
  await context.close();
});

test("destinations with template preview, installations and API keys (tokens shown once)", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/dashboard/destinations`);
  await page.getByLabel("Name", { exact: true }).fill("Slack alerts");
  await page.getByLabel("URL", { exact: true }).fill(`${receiver.url}/slack`);
  await page.getByLabel(/^Payload template/).fill('{"text": "New {{ type }} event {{ id }}"}');
  await page.getByRole("button", { name: "Preview template" }).click();
  assert.match(await page.getByTestId("preview").innerText(), /"text": ?"New link\.created event [0-9a-f-]{36}"/);
  await screenshot(page, "destination-preview");
  await page.getByRole("button", { name: "Add destination" }).click();
  assert.match(await page.getByTestId("secret").inputValue(), /^whsec_/);
  await page.getByRole("link", { name: "Go to the endpoint" }).click();
  await page.getByRole("button", { name: "Send test event" }).click();
  assert.equal(await page.getByTestId("test-status").innerText(), "200");
  await screenshot(page, "destination");
  await page.goto(`${lw.baseUrl}/dashboard/destinations`);
  await screenshot(page, "destinations");

  await page.goto(`${lw.baseUrl}/dashboard/installations`);
  await page.getByLabel("Platform").selectOption("zapier");
  await page.getByLabel("Name (optional)").fill("Marketing Zap");
  await page.getByRole("button", { name: "Create token" }).click();
  const installToken = await page.getByTestId("secret").inputValue();
  assert.match(installToken, /^lwi_/);
  assert.equal((await lw.api("GET", "/api/v1/hooks", { token: installToken })).status, 200);
  await page.getByRole("link", { name: "Back to installations" }).click();
  assert.ok(!(await page.content()).includes(installToken), "the token is not shown again");
  await screenshot(page, "installations");
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Revoke Marketing Zap" }).click();
  await page.waitForURL(/notice=revoked/);
  assert.equal((await lw.api("GET", "/api/v1/hooks", { token: installToken })).status, 401);

  await page.goto(`${lw.baseUrl}/dashboard/api-keys`);
  await page.getByLabel("Name").fill("Warehouse sync");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.getByTestId("secret").inputValue();
  assert.match(key, /^lw_/);
  await screenshot(page, "api-key-created");
  assert.equal((await lw.api("GET", "/api/v1/links", { token: key })).status, 200);
  await page.getByRole("link", { name: "Back to API keys" }).click();
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Revoke Warehouse sync" }).click();
  await page.waitForURL(/notice=revoked/);
  assert.equal((await lw.api("GET", "/api/v1/links", { token: key })).status, 401);
  await screenshot(page, "api-keys");

  await page.goto(`${lw.baseUrl}/dashboard/members`);
  assert.match(await page.getByTestId("members").innerText(), /viewer@example\.com\s+viewer\s+viewer/);
  await screenshot(page, "members");
});

test("the API reference at /docs lists every route and tries one with a key", async () => {
  const page = ownerPage;
  await page.goto(`${lw.baseUrl}/docs`);
  const doc = await (await fetch(`${lw.baseUrl}/api/openapi.json`)).json();
  const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  await waitUntil("the operations to render", async () => (await page.locator("details[data-operation]").count()) === operations);
  await page.getByLabel("API key").fill(lw.adminKey);
  const whoami = page.locator('details[data-operation="get_api_v1_whoami"]');
  await whoami.locator("summary").click();
  await whoami.getByRole("button", { name: "Send GET" }).click();
  await waitUntil("the answer", async () => /^200 /.test(await whoami.locator("pre").innerText()));
  assert.match(await whoami.locator("pre").innerText(), /"workspace_id"/);
  await screenshot(page, "api-reference");
});
