# Drives Transmission's own web client (Debian's transmission-common) in headless Chromium
# over the DevTools protocol: opens the page ttui serves, waits until its list shows every
# torrent with its progress, selects one and presses the page's pause button. Prints one
# JSON object of what it saw. Arguments: chromium, its profile dir, the page URL, the names
# to wait for, comma-separated, and the name to pause.
import json
import os
import subprocess
import sys
import time
import urllib.request

import websocket  # websocket-client, from the test venv

chromium, profile, page_url, names, pause_name = sys.argv[1:6]
names = names.split(",")
browser = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--no-first-run", "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1",
     "--remote-debugging-port=0", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 30
    while not os.path.exists(port_file):
        assert time.time() < deadline, "chromium gave no DevTools port"
        time.sleep(0.1)
    time.sleep(0.2)
    port = open(port_file).read().split()[0]
    pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
    ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
    ws = websocket.create_connection(ws_url, timeout=20)
    ids = iter(range(1, 1 << 30))

    def call(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            m = json.loads(ws.recv())
            if m.get("id") == i:
                assert "error" not in m, m
                return m.get("result", {})

    def js(expr):
        r = call("Runtime.evaluate", expression=expr, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    call("Page.navigate", url=page_url)
    rows_js = """Array.from(document.querySelectorAll('#torrent_list li.torrent')).map(li => ({
        name: li.querySelector('.torrent_name').textContent,
        progress: li.querySelector('.torrent_progress_details').textContent,
        peers: li.querySelector('.torrent_peer_details').textContent,
        paused: li.querySelector('.torrent_peer_details').textContent === 'Paused'}))"""
    deadline = time.time() + 60
    rows = []
    while True:
        rows = js(rows_js) or []
        shown = {r["name"] for r in rows}
        if all(n in shown for n in names) and all("100%" in r["progress"] or "Seeding" in r["peers"] for r in rows):
            break
        assert time.time() < deadline, f"the page never listed every torrent, complete: {rows}"
        time.sleep(0.5)
    # Select the row as a click does, then the toolbar's pause button.
    clicked = js(f"""(() => {{
        const li = Array.from(document.querySelectorAll('#torrent_list li.torrent'))
            .find(li => li.querySelector('.torrent_name').textContent === {json.dumps(pause_name)});
        if (!li) return false;
        li.dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
        document.getElementById('toolbar-pause').dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
        return true;
    }})()""")
    assert clicked, "no row to click"
    deadline = time.time() + 30
    while True:
        after = js(rows_js) or []
        if any(r["name"] == pause_name and r["paused"] for r in after):
            break
        assert time.time() < deadline, f"the page never showed it paused: {after}"
        time.sleep(0.5)
    print(json.dumps({"rows": rows, "after": after}))
    ws.close()
finally:
    browser.terminate()
    try:
        browser.wait(timeout=10)
    except subprocess.TimeoutExpired:
        browser.kill()
        browser.wait()
