"""500 half-sent requests from 127.0.0.2 against ttui's qBittorrent API while the
`qbittorrent-api` package (PyPI) logs in and lists from 127.0.0.1 (tests/faces/qbt_tools.rs).

    halfsent.py PORT USER PASSWORD CONNECTIONS HEADER_TIMEOUT_SECS

Each attacking connection sends half a request line or a request line and half its headers,
then nothing, and stays open on our side. Meanwhile the real client must log in and list
within CLIENT_LIMIT seconds. The server's sockets for 127.0.0.2 are counted from
/proc/net/tcp (the test's namespace holds only this daemon and us) right after the attack
and again after the header timeout, when the server must have closed every one. Prints one
JSON object; the Rust side asserts on it.
"""
import json
import socket
import sys
import time

import qbittorrentapi

port, user, password, n, header_timeout = sys.argv[1:6]
port, n, header_timeout = int(port), int(n), float(header_timeout)
ATTACKER = "127.0.0.2"
CLIENT_LIMIT = 10.0
HALVES = [
    b"GET /api/v2/torrents/in",
    b"POST /api/v2/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic",
]


def server_sockets_from(ip):
    """The server's ESTABLISHED sockets on `port` whose peer is `ip` (IPv4 only)."""
    want_peer = socket.inet_aton(ip)[::-1].hex().upper()
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.split(":")[1], 16) == port and remote.split(":")[0] == want_peer \
                    and state == "01":
                count += 1
    return count


attackers = []
refused = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.bind((ATTACKER, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(HALVES[i % 2])
        attackers.append(s)
    except OSError:
        # The server may already have closed an older one to make room: that is its bound.
        refused += 1
        s.close()
attack_end = time.monotonic()
held_after_attack = server_sockets_from(ATTACKER)
# Connections the kernel completed but the server has not accepted yet wait in the listen
# backlog, ESTABLISHED too: each accept then closes an older one. Counted again once the
# backlog has drained (bounded), to see the server's own bound.
settled_series = [held_after_attack]
while settled_series[-1] > 128 and time.monotonic() < attack_end + 3.0:
    time.sleep(0.1)
    settled_series.append(server_sockets_from(ATTACKER))
held_settled = settled_series[-1]

start = time.monotonic()
c = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username=user, password=password,
                          REQUESTS_ARGS={"timeout": CLIENT_LIMIT})
c.auth_log_in()
names = sorted(t["name"] for t in c.torrents_info())
client_secs = time.monotonic() - start

# After the header timeout (and a margin for the server's timer), none may be left.
deadline = attack_end + header_timeout + 5.0
held_later = server_sockets_from(ATTACKER)
while held_later and time.monotonic() < deadline:
    time.sleep(0.25)
    held_later = server_sockets_from(ATTACKER)

# Each attacker's socket sees the server's close (EOF or a reset), or it is still open.
closed_by_server = 0
for s in attackers:
    s.setblocking(False)
    try:
        closed_by_server += s.recv(4096, socket.MSG_PEEK) is not None
    except BlockingIOError:
        pass
    except OSError:
        closed_by_server += 1
    s.close()

print(json.dumps({
    "connected": len(attackers),
    "refused": refused,
    "held_after_attack": held_after_attack,
    "held_settled": held_settled,
    "settled_series": settled_series,
    "held_after_timeout": held_later,
    "closed_by_server": closed_by_server,
    "client_secs": round(client_secs, 3),
    "names": names,
    "secs_to_drop": round(time.monotonic() - attack_end, 3),
}))
