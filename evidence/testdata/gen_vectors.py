#!/usr/bin/env python3
"""Independent implementation of docs/proof-format.md: writes vectors.json.

It shares no code with the Go package; the Go test holds package evidence to
these bytes. Run from this directory: python3 gen_vectors.py
"""
import base64, hashlib, hmac, json, struct

def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def i64(v): return struct.pack(">q", v)
def bstr(b): return u32(len(b)) + b
def sstr(s): return bstr(s.encode("utf-8"))
def b64(s): return base64.b64decode(s) if s else b""

def stamps(lst):
    out = u32(len(lst))
    for s in lst:
        out += u64(s["offset"]) + u64(s["cycles"]) + i64(s["kernel_ns"])
    return out

def encode(body):
    c = body["challenge"]
    out = u16(1) + bytes.fromhex(c["nonce"]) + sstr(c["verifier"]) + i64(c["issued_unix"]) + i64(c["expires_unix"]) + bstr(b64(c["tag"]))
    out += sstr(body["tee"]) + bstr(b64(body["app_binding"]))
    k = body["counter"]
    out += sstr(k["kind"]) + u64(k["hz"]) + sstr(k["source"]) + i64(body["created_unix_nano"])
    out += u32(len(body["probes"]))
    for p in body["probes"]:
        out += sstr(p["endpoint"]) + sstr(p["hostname"]) + u16(p["port"]) + sstr(p["method"]) + bytes.fromhex(p["nonce"])
        out += u32(len(p["conns"]))
        for cn in p["conns"]:
            out += u32(cn["index"]) + u32(cn["echo_base"]) + sstr(cn["alpn"]) + sstr(cn["address"])
            out += bytes.fromhex(cn["c2s_sha256"]) + bytes.fromhex(cn["s2c_sha256"]) + bytes.fromhex(cn["keylog_sha256"])
            out += stamps(cn["c2s_stamps"]) + stamps(cn["s2c_stamps"]) + u64(cn["handshake_cycles"])
            out += u32(len(cn["echo_cycles"])) + b"".join(u64(v) for v in cn["echo_cycles"])
    return out

def report_data(body):
    return hashlib.sha512(b"poc/v1 report data\x00" + encode(body)).digest()

def probe_nonce(challenge_hex, index):
    return hmac.new(bytes.fromhex(challenge_hex), b"poc/v1 probe" + u32(index), hashlib.sha256).hexdigest()

def sha(b): return hashlib.sha256(b).hexdigest()

challenge = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

minimal = {
    "challenge": {"nonce": "00" * 32, "verifier": "", "issued_unix": 0, "expires_unix": 0, "tag": None},
    "tee": "sim", "app_binding": None,
    "counter": {"kind": "monotonic", "hz": 1000000000, "source": "monotonic"},
    "created_unix_nano": 0,
    "probes": [{"endpoint": "", "hostname": "a", "port": 1, "method": "h2-ping", "nonce": "00" * 32,
                "conns": [{"index": 0, "echo_base": 0, "alpn": "", "address": "", "c2s_sha256": sha(b""),
                           "s2c_sha256": sha(b""), "keylog_sha256": sha(b""), "c2s_stamps": [], "s2c_stamps": [],
                           "handshake_cycles": 0, "echo_cycles": []}]}],
}

typical = {
    "challenge": {"nonce": challenge, "verifier": "verifier.example (key 1)", "issued_unix": 1795000000,
                  "expires_unix": 1795000300, "tag": base64.b64encode(bytes(range(32))).decode()},
    "tee": "azure-tdx", "app_binding": base64.b64encode(hashlib.sha256(b"workload public key").digest()).decode(),
    "counter": {"kind": "rdtscp", "hz": 2100000000, "source": "cpuid-0x15"},
    "created_unix_nano": 1795000012345678901,
    "probes": [
        {"endpoint": "api.westeurope.lab.test", "hostname": "api.westeurope.lab.test", "port": 443, "method": "h2-ping",
         "nonce": probe_nonce(challenge, 0),
         "conns": [{"index": 0, "echo_base": 0, "alpn": "h2", "address": "127.0.0.1:40211",
                    "c2s_sha256": sha(b"client bytes"), "s2c_sha256": sha(b"server bytes"), "keylog_sha256": sha(b"keylog"),
                    "c2s_stamps": [{"offset": 0, "cycles": 1000, "kernel_ns": 1795000012000000000},
                                   {"offset": 517, "cycles": 900000, "kernel_ns": 1795000012000400000}],
                    "s2c_stamps": [{"offset": 0, "cycles": 800000, "kernel_ns": 1795000012000300000}],
                    "handshake_cycles": 799000, "echo_cycles": [525000, 524000, 530000]}]},
        {"endpoint": "blob.westeurope.lab.test", "hostname": "blob.westeurope.lab.test", "port": 8443, "method": "http1",
         "nonce": probe_nonce(challenge, 1),
         "conns": [
             {"index": 0, "echo_base": 0, "alpn": "http/1.1", "address": "[::1]:8443",
              "c2s_sha256": sha(b"c0"), "s2c_sha256": sha(b"s0"), "keylog_sha256": sha(b"k0"),
              "c2s_stamps": [{"offset": 0, "cycles": 5, "kernel_ns": 0}], "s2c_stamps": [{"offset": 0, "cycles": 9, "kernel_ns": 0}],
              "handshake_cycles": 4, "echo_cycles": [18446744073709551615]},
             {"index": 1, "echo_base": 1, "alpn": "http/1.1", "address": "[::1]:8443",
              "c2s_sha256": sha(b"c1"), "s2c_sha256": sha(b"s1"), "keylog_sha256": sha(b"k1"),
              "c2s_stamps": [], "s2c_stamps": [], "handshake_cycles": 0, "echo_cycles": [1, 2]}]},
    ],
}

# Non-ASCII UTF-8 and a negative time: encoded by byte length, two's complement.
unicode = json.loads(json.dumps(typical))
unicode["challenge"]["verifier"] = "vérifieur · 検証"
unicode["challenge"]["issued_unix"] = -1
unicode["tee"] = "tdx"

vectors = {
    "description": "Test vectors for docs/proof-format.md, computed by gen_vectors.py (an independent implementation of the document). Each vector: a body as it appears in a proof's JSON, its canonical encoding (hex) and ReportData (hex). probe_nonces: ProbeNonce(challenge, index).",
    "vectors": [
        {"name": name, "body": body, "encoding": encode(body).hex(), "report_data": report_data(body).hex()}
        for name, body in [("minimal", minimal), ("typical", typical), ("unicode-and-negative", unicode)]
    ],
    "probe_nonces": [{"challenge": challenge, "index": i, "nonce": probe_nonce(challenge, i)} for i in (0, 1, 4294967295)],
}
with open("vectors.json", "w") as f:
    json.dump(vectors, f, indent=1, ensure_ascii=False)
    f.write("\n")
