"""The web config file: exporter-toolkit's format validated once, one line per problem
naming its field; certificates and keys checked before anything starts; the driftd run
flag and the config field that give it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftd.config import ConfigError
from driftd.config.web import load_web_config, parse_duration
from driftd.sinks.web_auth import BasicAuth
from driftd.sinks.web_security import load_web
from kafka_e2e.support import REPO, free_port
from web.client import basic
from web.daemon import write_driftd_config
from web.pki import PASSWORD, PASSWORD_HASH, USER, Pki, make_pki

EXAMPLE = REPO / "config" / "web-config.example.yml"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_web(path)
    return error.value.problems


def test_empty_file_serves_plain_http_without_auth(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("")
    settings = load_web(path)
    assert settings.tls is None and not settings.auth and settings.headers == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("tls_server_config:\n  cert_file: a.crt\n",
     ["tls_server_config: missing one of key or key_file"]),
    ("tls_server_config:\n  key_file: a.key\n",
     ["tls_server_config: missing one of cert or cert_file"]),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}\n",
     ["tls_server_config.client_auth_type: Input should be 'NoClientCert', "
      "'RequestClientCert', 'RequireAnyClientCert', 'RequireClientCert', "
      "'VerifyClientCertIfGiven' or 'RequireAndVerifyClientCert'"]),
    ("tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}\n",
     ["tls_server_config: client_ca_file is set without a client_auth_type "
      "(RequireAndVerifyClientCert to verify client certificates)"]),
    ("tls_server_config: {cert_file: a, key_file: b, "
     "client_auth_type: RequireAndVerifyClientCert}\n",
     ["tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file "
      "(or client_ca)"]),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
     ["tls_server_config: client_auth_type RequireAnyClientCert is not supported by driftd "
      "(Python's ssl module cannot require a certificate without verifying it); use "
      "RequireAndVerifyClientCert with client_ca_file"]),
    ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, "
     "max_version: TLS12}\n",
     ["tls_server_config: min_version TLS13 is above max_version TLS12"]),
    ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}\n",
     ["tls_server_config.min_version: Input should be 'TLS10', 'TLS11', 'TLS12' or 'TLS13'"]),
    ("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_FAKE]}\n",
     ["tls_server_config.cipher_suites: unknown cipher suite 'TLS_FAKE' (Go's names, e.g. "
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"]),
    ("tls_server_config: {cert_file: a, key_file: b, curve_preferences: [X25519]}\n",
     ["tls_server_config.curve_preferences: is not supported by driftd (Python's ssl module "
      "cannot order the key exchange groups); remove it to use OpenSSL's defaults"]),
    ("tls_server_config: {cert_file: a, key_file: b, cert_fil: c}\n",
     ["tls_server_config.cert_fil: Extra inputs are not permitted"]),
    ("basic_auth_users:\n  alice: hunter2\n  bob: 3\n",
     ["basic_auth_users.alice: is not a bcrypt hash ($2y$10$ and 53 characters; see "
      "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
      "basic_auth_users.bob: Input should be a valid string"]),
    ("http_server_config:\n  headers: {X-Frame-Options: allow, Server: driftd}\n",
     ["http_server_config.headers: X-Frame-Options must be one of deny, sameorigin, got "
      "'allow'"]),
    ("http_server_config:\n  headers: {Server: driftd}\n",
     ["http_server_config.headers: HTTP header 'Server' can not be configured (one of "
      "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
      "Content-Security-Policy)"]),
    ("rate_limit: {interval: soon, burst: 1}\n",
     ["rate_limit.interval: 'soon' is not a duration (e.g. 1s, 250ms, 1m30s)"]),
    ("tls_server_config: [1]\n",
     ["tls_server_config: Input should be a valid dictionary or instance of TlsServerConfig"]),
    ("- 1\n", ["(top level): expected a mapping of settings"]),
    ("a: [\n", None),
])
def test_a_bad_file_names_each_field_and_problem(tmp_path: Path, text: str,
                                                 expected: list[str] | None) -> None:
    found = problems(tmp_path, text)
    if expected is None:
        assert len(found) == 1 and found[0].startswith("(top level): not valid YAML")
    else:
        assert found == expected


def test_certificate_problems_name_the_file(tmp_path: Path, pki: Pki) -> None:
    """A missing certificate, a key of another certificate, and a CA file that is not PEM
    are each reported on one line that says which field and what is wrong."""
    missing = problems(tmp_path, f"tls_server_config: {{cert_file: nope.crt, key_file: "
                                 f"{pki.server.key}}}\n")
    assert missing == [f"tls_server_config.cert_file: cannot use {tmp_path / 'nope.crt'}: "
                       "No such file or directory"]
    wrong_key = problems(tmp_path, f"tls_server_config: {{cert_file: {pki.server.cert}, "
                                   f"key_file: {pki.client.key}}}\n")
    assert len(wrong_key) == 1 and wrong_key[0].startswith(
        "tls_server_config: cannot use the certificate and key (key values mismatch")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    bad_ca = problems(tmp_path, f"tls_server_config: {{cert_file: {pki.server.cert}, "
                                f"key_file: {pki.server.key}, client_ca_file: junk.pem, "
                                "client_auth_type: RequireAndVerifyClientCert}\n")
    assert len(bad_ca) == 1 and bad_ca[0].startswith(
        f"tls_server_config.client_ca_file: cannot use {tmp_path / 'junk.pem'}: ")


def test_files_are_relative_to_the_web_config(tmp_path: Path, pki: Pki) -> None:
    directory = pki.server.cert.parent
    path = directory / "web.yml"
    path.write_text("tls_server_config: {cert_file: server.crt, key_file: server.key, "
                    "cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], "
                    "min_version: TLS12}\n")
    config = load_web_config(path)
    assert config.tls_server_config.cert_file == directory / "server.crt"
    settings = load_web(path)
    assert settings.tls is not None
    assert [c["name"] for c in settings.tls.context.get_ciphers()
            if c["protocol"] == "TLSv1.2"] == ["ECDHE-ECDSA-AES128-GCM-SHA256"]


def test_inline_certificate_and_key(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump({"tls_server_config": {
        "cert": pki.server.cert.read_text(), "key": pki.server.key.read_text()}}))
    assert load_web(path).tls is not None


def test_the_example_file_loads() -> None:
    """config/web-config.example.yml is valid, its TLS files aside (they are examples)."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    assert set(raw) >= {"tls_server_config", "basic_auth_users"}
    config = load_web_config(EXAMPLE)
    assert config.tls_server_config.client_auth == "NoClientCert"
    assert list(config.basic_auth_users) == ["prometheus"]


def test_durations() -> None:
    assert parse_duration("1h2m3.5s") == 3723.5
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("1 s")


def test_basic_auth_caches_accepted_credentials_and_refuses_unknown_users() -> None:
    """Steps: check right, wrong and unknown-user credentials twice each.

    Expected: only the right ones pass; then ``cached`` knows the accepted ones only
    (a refusal always costs a bcrypt, so guesses never evict a scraper's entry);
    malformed headers fail without bcrypt.
    """
    auth = BasicAuth({USER: PASSWORD_HASH})
    right, wrong, unknown = basic(USER, PASSWORD), basic(USER, "no"), basic("eve", PASSWORD)
    assert auth.cached(right) is None
    assert [auth.check(h) for h in (right, wrong, unknown)] == [True, False, False]
    assert [auth.cached(h) for h in (right, wrong, unknown)] == [True, None, None]
    for guess in range(150):
        assert not auth.check(basic(USER, f"guess-{guess}"))
    assert auth.cached(right) is True
    for header in (None, "", "Basic", "Basic !!!", "Basic " + "bm9jb2xvbg==", "Digest x"):
        assert auth.cached(header) is False and auth.check(header) is False


def run_driftd(tmp_path: Path, *args: str, web: str | None = None,
               in_config: str | None = None) -> subprocess.CompletedProcess[str]:
    """`driftd run --exit-when-drained` on an empty JSONL file (exits at once)."""
    (tmp_path / "events.jsonl").write_text("")
    config = write_driftd_config(
        tmp_path, address=f"127.0.0.1:{free_port()}", source=str(tmp_path / "events.jsonl"),
        http=None if in_config is None else {"web_config_file": in_config})
    if web is not None:
        (tmp_path / "web.yml").write_text(web)
    return subprocess.run([sys.executable, "-m", "driftd", "run", "--config", str(config),
                           "--exit-when-drained", *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def test_driftd_run_refuses_a_bad_web_config_with_exit_2(tmp_path: Path) -> None:
    """`driftd run --web.config.file` with two problems: exit 2, one line each, no
    traceback; the same file named by http.web_config_file (relative to the config)."""
    web = "basic_auth_users: {alice: hunter2}\ntls_server_config: {cert_file: a.crt}\n"
    for result, shown in ((run_driftd(tmp_path, "--web.config.file", "web.yml", web=web),
                           "web.yml"),
                          (run_driftd(tmp_path, web=web, in_config="web.yml"),
                           str(tmp_path / "web.yml"))):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if "web config" in line]
        assert lines == [
            f"driftd: web config {shown}: tls_server_config: missing one of key or key_file",
            f"driftd: web config {shown}: basic_auth_users.alice: is not a bcrypt hash "
            "($2y$10$ and 53 characters; see `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"]


def test_the_flag_overrides_the_config(tmp_path: Path) -> None:
    """A broken file named in the config and a good one given by the flag: the flag's is
    used, and the replay of an empty file ends normally (exit 0)."""
    (tmp_path / "good.yml").write_text(f"basic_auth_users: {{{USER}: '{PASSWORD_HASH}'}}\n")
    result = run_driftd(tmp_path, "--web.config.file", str(tmp_path / "good.yml"),
                        web="basic_auth_users: {alice: hunter2}\n", in_config="web.yml")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "web config" in result.stderr and "good.yml" in result.stderr


def test_allowed_sans_match_as_go_prints_them() -> None:
    """Python writes an IPv6 SAN in full and upper case; the allowed list is Go's form."""
    import ssl

    from driftd.sinks.web_tls import ServerTls

    tls = ServerTls(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
                    frozenset({"2001:db8::1", "scraper.example"}))
    assert tls.admits({"subjectAltName": (("IP Address", "2001:DB8:0:0:0:0:0:1\n"),)})
    assert tls.admits({"subjectAltName": (("DNS", "scraper.example"),)})
    assert not tls.admits({"subjectAltName": (("DNS", "other.example"),)})
    assert not tls.admits({})
