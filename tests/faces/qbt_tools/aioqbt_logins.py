"""aioqbt (PyPI, on aiohttp) against ttui's qBittorrent Web API, as a script written for
qBittorrent would use it: twenty logins in a row, each asking the version and the torrent
list and logging out. aiohttp sends a cookie value that holds a `/` in double quotes
(`Cookie: SID="..."`), and about two SIDs in five hold one, so a server that takes the
quotes for part of the value fails most of these runs.

    aioqbt_logins.py URL USER PASSWORD HASH

The URL's host is made `localhost`: aiohttp's cookie jar keeps no cookie from an IP address
(unless told to be unsafe), so against `127.0.0.1` no login of any server would hold.

Prints a line per login and PHASE OK at the end; any failed check raises.
"""
import asyncio
import sys

from aioqbt.client import create_client

url, user, password, want = sys.argv[1:5]
url = url.replace("://127.0.0.1:", "://localhost:")
LOGINS = 20


async def main():
    quoted = 0
    for i in range(LOGINS):
        client = await create_client(
            url.rstrip("/") + "/api/v2/", username=user, password=password,
            logout_when_close=True)
        try:
            version = await client.app.version()
            hashes = [t.hash for t in await client.torrents.info()]
            if want not in hashes:
                raise AssertionError(f"login {i + 1}: {want} not in {hashes}")
            # What aiohttp will send: the SID quoted when it holds a `/`.
            jar = client._http.cookie_jar  # aiohttp's session: no public accessor
            sid = next((c.value for c in jar if c.key == "SID"), "")
            quoted += "/" in sid
        finally:
            await client.close()
        print(f"login {i + 1}: {version}, {len(hashes)} torrents, SID with '/': {'/' in sid}",
              flush=True)
    print(f"{quoted} of {LOGINS} SIDs went out quoted")
    # Two SIDs in five hold a `/`: none in twenty has odds of about 1 in 27,000.
    if quoted == 0:
        raise AssertionError("no SID went out quoted: the quoted case was not tried")
    print("PHASE OK")


asyncio.run(main())
