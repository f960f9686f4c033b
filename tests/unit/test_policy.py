"""The policy loader and checker (app/policy), through `bulwark policy check`
of build/bin/bulwark (or $BULWARK_BIN):

- policy/default.yaml passes every rule and says what DEFAULT-POLICY.md says;
- policy/examples/proxy-api.yaml passes every rule;
- each policy/examples/insecure/<rule>.yaml trips exactly <rule>, with a Fix:;
- load errors are one line FILE:LINE:COL: ... and exit status 2;
- the keys SCHEMA.md documents are exactly the keys the loader accepts, and
  its rule table is exactly the checker's rules.
"""

import os
import re
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BULWARK = os.environ.get("BULWARK_BIN") or os.path.join(REPO, "build", "bin", "bulwark")
ERROR_PREFIX = "bulwark: error: "
POLICY = os.path.join(REPO, "policy")
DEFAULT = os.path.join(POLICY, "default.yaml")
EXAMPLES = os.path.join(POLICY, "examples")
INSECURE = os.path.join(EXAMPLES, "insecure")
SCHEMA = os.path.join(POLICY, "SCHEMA.md")

LINE_RE = re.compile(r"^(PASS|WARN|FAIL) ([a-z0-9-]+): (.+)$")
COUNT_RE = re.compile(r"^(\d+) rules: (\d+) passed, (\d+) warned, (\d+) failed$")
FIX = " \u2014 Fix: "
# rules whose worst finding is a WARN: their example warns, the build goes on
WARN_ONLY = {"proxy-plain-http", "environment"}

# the smallest policy that passes every rule, for the error cases
MINIMAL = """version: 1
hosts: [api.example.com]
rate_limits:
  limits:
    general: {requests: 100, window: 1m, global: true}
"""


def binary():
    if not os.path.isfile(BULWARK):
        pytest.fail("bulwark binary not found at %s: build it with ./build.sh "
                    "(or point BULWARK_BIN at one)" % BULWARK, pytrace=False)
    return BULWARK


def run(arg):
    """`bulwark policy check FILE`, or `policy keys` / `policy rules` for
    --keys / --rules."""
    sub = {"--keys": ["keys"], "--rules": ["rules"]}.get(arg, ["check", arg])
    return subprocess.run([binary(), "policy", *sub], capture_output=True, text=True, timeout=30)


class Check:
    def __init__(self, proc):
        self.proc = proc
        self.status = proc.returncode
        lines = proc.stdout.splitlines()
        assert lines, "no output; stderr: %r" % proc.stderr
        self.count = COUNT_RE.match(lines[-1])
        assert self.count, "last line is not the count: %r" % lines[-1]
        self.results = []
        for line in lines[:-1]:
            m = LINE_RE.match(line)
            assert m, "malformed check line: %r" % line
            self.results.append((m.group(1), m.group(2), m.group(3)))

    def levels(self, level):
        return [r for r in self.results if r[0] == level]

    def non_pass(self):
        return [r for r in self.results if r[0] != "PASS"]


def check(path):
    return Check(run(path))


@pytest.fixture(scope="module")
def rules():
    proc = run("--rules")
    assert proc.returncode == 0
    ids = proc.stdout.split()
    assert len(ids) == len(set(ids)) and len(ids) >= 20
    return ids


@pytest.fixture(scope="module")
def keys():
    proc = run("--keys")
    assert proc.returncode == 0
    listed = proc.stdout.split()
    assert len(listed) == len(set(listed))
    return listed


def write(tmp_path, text, name="policy.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- check results ----

def test_default_policy_passes_every_rule(rules):
    c = check(DEFAULT)
    assert c.status == 0, c.proc.stdout
    assert c.non_pass() == []
    assert [r[1] for r in c.results] == rules, "one line per rule, in order"
    assert c.count.groups() == (str(len(rules)), str(len(rules)), "0", "0")


def test_proxy_example_passes_every_rule():
    c = check(os.path.join(EXAMPLES, "proxy-api.yaml"))
    assert c.status == 0, c.proc.stdout
    assert c.non_pass() == []


def test_every_rule_has_an_insecure_example(rules):
    files = sorted(f[:-len(".yaml")] for f in os.listdir(INSECURE) if f.endswith(".yaml"))
    assert files == sorted(rules)


@pytest.mark.parametrize("rule", sorted(
    f[:-len(".yaml")] for f in os.listdir(INSECURE) if f.endswith(".yaml")))
def test_insecure_example_trips_exactly_its_rule(rule):
    c = check(os.path.join(INSECURE, rule + ".yaml"))
    bad = c.non_pass()
    assert [r[1] for r in bad] == [rule], c.proc.stdout
    level, _, text = bad[0]
    assert FIX in text and text.split(FIX, 1)[1].strip(), "a non-PASS line needs a Fix: hint"
    if rule in WARN_ONLY:
        assert level == "WARN" and c.status == 0
    else:
        assert level == "FAIL" and c.status == 1


def test_pass_lines_have_no_fix(rules):
    for level, _, text in check(DEFAULT).results:
        assert level == "PASS" and FIX not in text


def test_every_finding_is_listed_up_to_three(tmp_path):
    routes = "".join(
        "  - path: /api/login%d\n    methods: [POST]\n    proxy: {upstream: \"http://127.0.0.1:9/\"}\n" % i
        for i in range(5))
    c = check(write(tmp_path, MINIMAL + "routes:\n" + routes))
    (line,) = c.non_pass()
    assert line[1] == "login-limit"
    assert "/api/login0" in line[2] and "/api/login2" in line[2] and "and 2 more" in line[2]


@pytest.mark.parametrize("limit,verdict", [
    ("{requests: 10, window: 1m}", "PASS"),
    ("{requests: 11, window: 1m}", "FAIL"),
    ("{requests: 100, window: 10m}", "PASS"),
    ("{requests: 1, window: 1s}", "FAIL"),
    ("{requests: 5, window: 1m, key: \"header:X-Client\"}", "FAIL"),
])
def test_login_limit_threshold(tmp_path, limit, verdict):
    text = MINIMAL + "    login: %s\nroutes:\n  - path: /auth/signin\n    methods: [POST]\n" \
        "    proxy: {upstream: \"http://127.0.0.1:9/\"}\n    rate_limits: [login]\n" % limit
    c = check(write(tmp_path, text))
    assert [r[0] for r in c.results if r[1] == "login-limit"] == [verdict]


def test_override_cannot_drop_frame_protection(tmp_path):
    text = MINIMAL + ("headers:\n  overrides:\n    - path: /embed\n      set:\n"
                      "        X-Frame-Options: ALLOW-FROM https://x.example\n"
                      "        Content-Security-Policy: default-src 'self'\n")
    bad = check(write(tmp_path, text)).non_pass()
    assert [r[1] for r in bad] == ["frame-protection"] and "/embed" in bad[0][2]


def test_docs_route_only_warns_in_development(tmp_path):
    text = MINIMAL + ("environment: development\nroutes:\n  - path: /swagger-ui/*\n"
                      "    methods: [GET]\n    static: {dir: /srv/docs}\n")
    c = check(write(tmp_path, text))
    assert c.status == 0
    assert sorted((r[0], r[1]) for r in c.non_pass()) == [("WARN", "docs-exposed"), ("WARN", "environment")]


# ---- the default policy is DEFAULT-POLICY.md ----

@pytest.fixture(scope="module")
def default():
    with open(DEFAULT) as f:
        return yaml.safe_load(f)


def test_default_policy_contract(default):
    assert default["environment"] == "production"
    assert default["hosts"] == ["localhost", "127.0.0.1", "[::1]", "bulwark.test", "*.bulwark.test"]
    h = default["headers"]["set"]
    assert h["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert h["Content-Security-Policy"] == \
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    assert h["Permissions-Policy"] == "geolocation=(), microphone=(), camera=()"
    assert h["Cross-Origin-Opener-Policy"] == h["Cross-Origin-Resource-Policy"] == "same-origin"
    over = {o.get("path") or o.get("path_prefix"): o["set"] for o in default["headers"]["overrides"]}
    assert over["/api/"] == {"Cache-Control": "no-store"}
    assert "'self'" in over["/"]["Content-Security-Policy"]
    cors = default["cors"]
    assert cors["allow_origins"] == ["https://app.bulwark.test", "https://admin.bulwark.test"]
    assert cors["allow_credentials"] is True
    assert cors["allow_methods"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert cors["allow_headers"] == ["Authorization", "Content-Type", "X-Request-ID"]
    assert cors["expose_headers"] == ["X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"]
    assert cors["max_age"] == "10m"
    assert default["limits"]["max_body"] == "1MiB"
    assert default["limits"]["max_request_line"] == "8KiB"
    assert default["limits"]["max_header_bytes"] == "16KiB"
    assert default["limits"]["header_timeout"] == "10s"
    assert default["trusted_proxies"] == []
    tls = default["tls"]
    assert tls["min_version"] == "1.2" and tls["groups"] == ["x25519", "secp256r1", "secp384r1"]
    assert tls["alpn"] == ["h2", "http/1.1"]
    assert default["listeners"] == {"https": ["0.0.0.0:443"], "http": ["0.0.0.0:80"]}


def test_default_policy_tokens_and_limits(default):
    auth = default["auth"]
    assert (auth["issuer"], auth["audience"], auth["algorithms"]) == ("bulwark", "bulwark-api", ["ES256"])
    assert (auth["token_lifetime"], auth["leeway"]) == ("15m", "30s")
    lim = default["rate_limits"]["limits"]
    assert lim["general"] == {"requests": 100, "window": "1m", "global": True}
    assert lim["login"] == {"requests": 5, "window": "1m"}
    assert lim["password_reset"] == {"requests": 3, "window": "1h"}
    assert lim["api_subject"] == {"requests": 1000, "window": "1h", "key": "token_subject",
                                  "global": True, "path_prefix": "/api/"}


def test_default_policy_routes(default):
    routes = {(tuple(r["methods"]), r["path"]): r for r in default["routes"]}
    expect = {
        (("GET",), "/"): None,
        (("GET",), "/healthz"): "healthz",
        (("GET",), "/.well-known/jwks.json"): "jwks",
        (("POST",), "/api/auth/login"): "login",
        (("POST",), "/api/auth/password-reset"): "password_reset",
        (("GET",), "/api/users/me"): "users_me",
        (("GET",), "/api/items/{id}"): "items_get",
        (("POST",), "/api/items"): "items_create",
        (("DELETE",), "/api/admin/users/{id}"): "admin_user_delete",
    }
    assert set(routes) == set(expect)
    for key, builtin in expect.items():
        assert routes[key].get("builtin") == builtin
    assert "inline" in routes[(("GET",), "/")]["static"]
    assert routes[(("GET",), "/healthz")]["rate_limit_exempt"] is True
    assert routes[(("POST",), "/api/auth/login")]["rate_limits"] == ["login"]
    assert routes[(("POST",), "/api/auth/password-reset")]["rate_limits"] == ["password_reset"]
    assert routes[(("GET",), "/api/users/me")]["scopes"] == ["profile:read"]
    assert routes[(("GET",), "/api/items/{id}")]["scopes"] == ["items:read"]
    assert routes[(("GET",), "/api/items/{id}")]["owner"] == {"param": "id", "claim": "sub"}
    assert routes[(("POST",), "/api/items")]["scopes"] == ["items:write"]
    assert routes[(("DELETE",), "/api/admin/users/{id}")]["scopes"] == ["admin"]


# ---- load errors ----

ERROR_CASES = [
    # (name, policy text, line, column, message fragment)
    ("bad-yaml", "version: 1\nhosts: [a.test\n", 3, 1, "flow sequence"),
    ("unknown-key", MINIMAL + "cors:\n  allow_origin: [https://a.test]\n", 7, 3,
     "cors: unknown key 'allow_origin' (did you mean 'allow_origins'?)"),
    ("unknown-top-key", MINIMAL + "rate_limit: {}\n", 6, 1, "unknown key 'rate_limit' (did you mean 'rate_limits'?)"),
    ("wrong-type", MINIMAL + "cors:\n  allow_origins: https://a.test\n", 7, 18,
     "cors.allow_origins: expected a list of origins"),
    ("wrong-bool", MINIMAL + "cors: {allow_origins: [https://a.test], allow_credentials: yes}\n", 6, 60,
     "cors.allow_credentials: expected true or false"),
    ("duplicate-key", MINIMAL + "hosts: [b.test]\n", 6, 1, "duplicate key 'hosts' (first at line 2)"),
    ("duplicate-nested", MINIMAL + "limits:\n  max_body: 1MiB\n  max_body: 2MiB\n", 8, 3, "duplicate key 'max_body'"),
    ("range", MINIMAL + "limits: {max_body: 2GiB}\n", 6, 20, "limits.max_body: expected a value from 0B to 1GiB"),
    ("size-unit", MINIMAL + "limits: {max_body: 1MB}\n", 6, 20, "limits.max_body: expected a size"),
    ("duration", MINIMAL + "auth: {issuer: a, audience: b, leeway: 30, keys: [{kid: k, alg: ES256, file: k.pem}]}\n",
     6, 40, "auth.leeway: expected a duration"),
    ("missing-key", "version: 1\n", 1, 1, "missing key 'hosts'"),
    ("version", "version: 2\nhosts: [a.test]\n", 1, 10, "version: expected 1"),
    ("alias", "version: 1\nhosts: [&h a.test, *h]\n", 2, 9, "anchors and aliases"),
    ("tag", "version: 1\nhosts: !!seq [a.test]\n", 2, 8, "tags"),
    ("two-documents", MINIMAL + "---\nversion: 1\n", 6, 1, "one YAML document"),
    ("empty", "", 1, 1, "empty"),
    ("host-port", "version: 1\nhosts: [\"a.test:8443\"]\n", 2, 9, "hosts[0]: expected a host without a port"),
    ("origin-path", MINIMAL + "cors: {allow_origins: [\"https://a.test/\"]}\n", 6, 24,
     "cors.allow_origins[0]: expected an origin"),
    ("limit-ref", MINIMAL + "routes:\n  - {path: /x, methods: [GET], builtin: healthz, rate_limits: [nope]}\n", 7, 64,
     "routes[0].rate_limits: no limit named 'nope'"),
    ("owner-param", MINIMAL + "auth: {issuer: a, audience: b, keys: [{kid: k, alg: ES256, file: k.pem}]}\n"
     "routes:\n  - path: /x/{id}\n    methods: [GET]\n    builtin: healthz\n    scopes: [s]\n"
     "    owner: {param: uid, claim: sub}\n", 12, 20, "routes[0].owner: the path /x/{id} has no {uid} segment"),
    ("reserved-header", MINIMAL + "headers: {set: {Server: bulwark}}\n", 6, 17, "Server is set by the appliance"),
    ("route-kind", MINIMAL + "routes:\n  - {path: /x, methods: [GET]}\n", 7, 5,
     "routes[0]: expected exactly one of 'builtin', 'static' and 'proxy'"),
    ("builtin-needs-auth", MINIMAL + "routes:\n  - {path: /me, methods: [GET], builtin: users_me}\n", 7, 42,
     "builtin users_me needs the auth section"),
    ("duplicate-route", MINIMAL + "routes:\n  - {path: \"/x/{a}\", methods: [GET], builtin: healthz}\n"
     "  - {path: \"/x/{b}\", methods: [GET, POST], builtin: healthz}\n", 8, 5, "already routed"),
    ("https-upstream-ca", MINIMAL + "routes:\n  - {path: /x, methods: [GET], proxy: {upstream: \"https://u.test\"}}\n",
     7, 39, "needs ca_file"),
    ("nul", "version: 1\nhosts: [\"a\\0b\"]\n", 2, 9, "NUL"),
]


@pytest.mark.parametrize("name,text,line,col,fragment", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_load_error_names_file_line_column(tmp_path, name, text, line, col, fragment):
    path = write(tmp_path, text)
    proc = run(path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout == ""
    err = proc.stderr.rstrip("\n")
    assert "\n" not in err, "one line"
    prefix = ERROR_PREFIX + "%s:%d:%d: " % (path, line, col)
    assert err.startswith(prefix), err
    assert fragment in err


def test_missing_file_exits_2(tmp_path):
    proc = run(str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2 and "cannot open" in proc.stderr


def test_deep_nesting_is_refused(tmp_path):
    proc = run(write(tmp_path, "version: 1\nhosts: " + "[" * 5000 + "]" * 5000 + "\n"))
    assert proc.returncode == 2 and "nested deeper" in proc.stderr


def test_oversized_file_is_refused(tmp_path):
    proc = run(write(tmp_path, MINIMAL + "#" * (1024 * 1024) + "\n"))
    assert proc.returncode == 2 and "larger than" in proc.stderr


# ---- SCHEMA.md and the loader agree ----

def schema_section(title):
    with open(SCHEMA) as f:
        text = f.read()
    start = text.index("\n## %s\n" % title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def first_code_spans(section):
    return [m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", section, re.M)]


def test_schema_documents_exactly_the_loaders_keys(keys):
    documented = first_code_spans(schema_section("Keys"))
    assert len(documented) == len(set(documented)), "a key documented twice"
    assert sorted(set(documented) - set(keys)) == [], "documented but not accepted"
    assert sorted(set(keys) - set(documented)) == [], "accepted but not documented"


def test_schema_documents_exactly_the_rules(rules):
    assert first_code_spans(schema_section("Check rules")) == rules


def nest(key, value):
    """A policy text holding `key` (a --keys path) with `value`."""
    parts = re.split(r"\.(?![^<]*>)", key)
    doc = value
    for part in reversed(parts):
        if part.endswith("[]"):
            doc = {part[:-2]: [doc]}
        elif part == "<name>":
            doc = {"x": doc}
        else:
            doc = {part: doc}
    return doc


def test_loader_accepts_every_listed_key(tmp_path, keys):
    """Every key --keys lists is known to the loader: set alone to a value of
    the wrong shape, the error is about its value, never an unknown key."""
    for key in keys:
        doc = nest(key, [["not a valid value"]])
        text = "version: 1\n" + yaml.safe_dump(doc, default_flow_style=False)
        proc = run(write(tmp_path, text))
        assert proc.returncode == 2, (key, proc.stdout)
        assert "unknown key" not in proc.stderr, (key, proc.stderr)


def yaml_keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            free = re.search(r"(headers\.set|\.set|routes\[\]\.headers|rate_limits\.limits)$", prefix.rstrip("."))
            name = "<name>" if free else k
            yield prefix + name
            yield from yaml_keys(v, prefix + name + ".")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from yaml_keys(item, prefix.rstrip(".") + "[].")


@pytest.mark.parametrize("path", [DEFAULT, os.path.join(EXAMPLES, "proxy-api.yaml")])
def test_example_keys_are_documented(path, keys):
    with open(path) as f:
        used = set(yaml_keys(yaml.safe_load(f)))
    assert sorted(used - set(keys)) == []
