"""TLS verification is on by default; a CA bundle or an explicit opt-out make a self-signed dashboard work."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from fnpack.cli import main

from .nuclio_dashboard import NuclioDashboard

FAST = ["--poll-interval", "0.01"]


@pytest.fixture
def tls_dashboard(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = NuclioDashboard(ssl_context=context).start()
    yield server, cert
    server.stop()


def test_self_signed_dashboard_is_refused_by_default(tls_dashboard, write_function, capsys, creds_env):
    server, _ = tls_dashboard
    assert main(["deploy", str(write_function()), "--dashboard", server.url, *FAST]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"TLS verification failed for {server.url}" in err
    assert server.record("hello") is None


def test_ca_bundle_and_no_verify_tls(tls_dashboard, write_function, capsys, creds_env):
    server, cert = tls_dashboard
    path = write_function()
    assert main(["deploy", str(path), "--dashboard", server.url, "--ca-bundle", str(cert), *FAST]) == 0
    assert main(["get", "hello", "--dashboard", server.url, "--no-verify-tls"]) == 0
    out, err = capsys.readouterr()
    assert "function hello is ready" in out
    assert "InsecureRequestWarning" not in err
