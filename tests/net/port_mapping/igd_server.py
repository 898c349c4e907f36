#!/usr/bin/python3
"""A UPnP IGD (v1 or v2) for tests, on a loopback address only: the device description and
the SOAP actions of WANIPConnection a port mapper uses, per the UPnP IGD specs
(WANIPConnection:1 and :2 service templates).

Why not Debian's miniupnpd: its 2.3.1 refuses to forward with a reserved address on its
external interface, and the test namespace holds only loopback-range addresses. For UPnP
too, not only NAT-PMP: with a reserved external address it sets `disable_port_forwarding`,
and its `upnp_redirect_internal()` then fails every AddPortMapping (the SOAP answer is
501 ActionFailed). It also needs an iptables/nftables backend, which a namespace with only
`lo` cannot forward through anyway.

The rules kept from the specs: AddPortMapping of an external port another client holds
answers 718 ConflictInMappingEntry, the same client may map it again (a renewal); a v1 IGD
that takes only permanent leases answers 725 OnlyPermanentLeasesSupported to a non-zero
lease; v2's AddAnyPortMapping grants the port asked when free, else a free one, and says
which (NewReservedPort); DeletePortMapping of no mapping answers 714 NoSuchEntryInArray;
faults come as HTTP 500 with a UPnPError. Enough more (GetStatusInfo,
GetSpecificPortMappingEntry, GetGenericPortMappingEntry) that miniupnpc's `upnpc -u URL`
works against it, which the tests use to show this server answers as a real client expects.

Each request is logged as one line on stdout; the mappings in force are written to --state
as JSON after every change, so a test reads both.
"""
import argparse
import http.server
import ipaddress
import json
import os
import sys
import xml.etree.ElementTree as ET

ap = argparse.ArgumentParser()
ap.add_argument("--addr", required=True)
ap.add_argument("--port", type=int, default=5000)
ap.add_argument("--external", required=True)
ap.add_argument("--state", required=True)
ap.add_argument("--version", type=int, choices=[1, 2], default=2)
ap.add_argument("--permanent-only", action="store_true",
                help="answer 725 to a non-zero lease (as some IGD v1 routers)")
ap.add_argument("--taken", type=int, action="append", default=[],
                help="external ports another client holds (TCP and UDP)")
a = ap.parse_args()
if not ipaddress.ip_address(a.addr).is_loopback:
    sys.exit("loopback addresses only")

SERVICE = f"urn:schemas-upnp-org:service:WANIPConnection:{a.version}"
DEVICE = f"urn:schemas-upnp-org:device:InternetGatewayDevice:{a.version}"
CONTROL = "/ctl/IPConn"
DESCRIPTION = f"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>{DEVICE}</deviceType><friendlyName>test IGD</friendlyName>
<UDN>uuid:00000000-0000-0000-0000-000000000001</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:{a.version}</deviceType>
<UDN>uuid:00000000-0000-0000-0000-000000000002</UDN>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>
<controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL>
<SCPDURL>/WANCfg.xml</SCPDURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:{a.version}</deviceType>
<UDN>uuid:00000000-0000-0000-0000-000000000003</UDN>
<serviceList><service><serviceType>{SERVICE}</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>{CONTROL}</controlURL><eventSubURL>/evt/IPConn</eventSubURL>
<SCPDURL>/WANIPCn.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>
"""

# (proto, external port) -> {"client", "internal", "lease", "description"}
mappings = {}
for p in a.taken:
    for proto in ("TCP", "UDP"):
        mappings[(proto, p)] = {"client": "127.0.0.250", "internal": p, "lease": 0,
                                "description": "another client"}


def save():
    rows = [dict(proto=k[0], external=k[1], **v) for k, v in sorted(mappings.items())
            if v["client"] != "127.0.0.250"]
    tmp = a.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f)
    os.replace(tmp, a.state)


class Fault(Exception):
    def __init__(self, code, text):
        self.code, self.text = code, text


def taken_by_other(proto, port, client):
    m = mappings.get((proto, port))
    return m is not None and m["client"] != client


def add(args, any_port):
    proto = args.get("NewProtocol", "")
    if proto not in ("TCP", "UDP"):
        raise Fault(402, "Invalid Args")
    try:
        ext = int(args.get("NewExternalPort", ""))
        internal = int(args.get("NewInternalPort", ""))
        lease = int(args.get("NewLeaseDuration", "0"))
    except ValueError:
        raise Fault(402, "Invalid Args")
    client = args.get("NewInternalClient", "")
    if lease != 0 and a.permanent_only:
        raise Fault(725, "OnlyPermanentLeasesSupported")
    if a.version == 2 and lease == 0:
        lease = 604800  # IGD2: 0 means the longest lease, one week
    if ext == 0 and not any_port:
        raise Fault(716, "WildCardNotPermittedInExtPort")
    if taken_by_other(proto, ext, client):
        if not any_port:
            raise Fault(718, "ConflictInMappingEntry")
        ext = next(p for p in range(1024, 65536) if not taken_by_other(proto, p, client)
                   and (proto, p) not in mappings)
    mappings[(proto, ext)] = {"client": client, "internal": internal, "lease": lease,
                              "description": args.get("NewPortMappingDescription", "")}
    save()
    return ext


def act(action, args):
    if action == "GetExternalIPAddress":
        return [("NewExternalIPAddress", a.external)]
    if action == "GetStatusInfo":
        return [("NewConnectionStatus", "Connected"), ("NewLastConnectionError", "ERROR_NONE"),
                ("NewUptime", "100")]
    if action == "GetConnectionTypeInfo":
        return [("NewConnectionType", "IP_Routed"), ("NewPossibleConnectionTypes", "IP_Routed")]
    if action == "AddPortMapping":
        add(args, False)
        return []
    if action == "AddAnyPortMapping" and a.version == 2:
        return [("NewReservedPort", str(add(args, True)))]
    if action == "DeletePortMapping":
        try:
            key = (args.get("NewProtocol", ""), int(args.get("NewExternalPort", "")))
        except ValueError:
            raise Fault(402, "Invalid Args")
        if key not in mappings:
            raise Fault(714, "NoSuchEntryInArray")
        del mappings[key]
        save()
        return []
    if action == "GetSpecificPortMappingEntry":
        try:
            m = mappings[(args.get("NewProtocol", ""), int(args.get("NewExternalPort", "")))]
        except (KeyError, ValueError):
            raise Fault(714, "NoSuchEntryInArray")
        return entry(m)
    if action == "GetGenericPortMappingEntry":
        rows = sorted(mappings.items())
        try:
            (proto, ext), m = rows[int(args.get("NewPortMappingIndex", ""))]
        except (IndexError, ValueError):
            raise Fault(713, "SpecifiedArrayIndexInvalid")
        return [("NewRemoteHost", ""), ("NewExternalPort", str(ext)), ("NewProtocol", proto)] + entry(m)
    raise Fault(401, "Invalid Action")


def entry(m):
    return [("NewInternalPort", str(m["internal"])), ("NewInternalClient", m["client"]),
            ("NewEnabled", "1"), ("NewPortMappingDescription", m["description"]),
            ("NewLeaseDuration", str(m["lease"]))]


def envelope(inner):
    return ('<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'{inner}</s:Body></s:Envelope>\r\n').encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def reply(self, code, body, ctype='text/xml; charset="utf-8"'):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):
        print(f"GET {self.path} from {self.client_address[0]}", flush=True)
        if self.path == "/rootDesc.xml":
            self.reply(200, DESCRIPTION.encode())
        else:
            self.reply(404, b"", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 65536))
        soap_action = self.headers.get("SOAPAction", "").strip('"')
        service, _, action = soap_action.partition("#")
        if self.path != CONTROL or service != SERVICE:
            print(f"POST {self.path} {soap_action}: wrong control URL or service", flush=True)
            self.reply(404, b"", "text/plain")
            return
        args = {}
        try:
            root = ET.fromstring(body)
            call = next(e for e in root.iter() if e.tag.endswith("}" + action) or e.tag == action)
            args = {c.tag.split("}")[-1]: (c.text or "") for c in call}
        except (ET.ParseError, StopIteration):
            print(f"{action}: unreadable body", flush=True)
            self.reply(500, fault(402, "Invalid Args"))
            return
        shown = " ".join(f"{k[3:]}={v}" for k, v in args.items())
        try:
            out = act(action, args)
        except Fault as f:
            print(f"{action} {shown} -> {f.code} {f.text}", flush=True)
            self.reply(500, fault(f.code, f.text))
            return
        print(f"{action} {shown} -> ok {' '.join(f'{k}={v}' for k, v in out)}", flush=True)
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in out)
        self.reply(200, envelope(f'<u:{action}Response xmlns:u="{SERVICE}">{inner}</u:{action}Response>'))


def fault(code, text):
    return envelope('<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>'
                    '<detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0">'
                    f'<errorCode>{code}</errorCode><errorDescription>{text}</errorDescription>'
                    '</UPnPError></detail></s:Fault>')


save()
srv = http.server.HTTPServer((a.addr, a.port), Handler)
print(f"the IGD (v{a.version}) is listening on http://{a.addr}:{a.port}/rootDesc.xml", flush=True)
srv.serve_forever()
