"""entanglement.pki: the site CA, node certificates and the ``entanglegen pki`` command."""

from __future__ import annotations

import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from entanglement._hashes import CertHash, certhash_from_file
from entanglement.pki import cert_hash_text, gen_site_ca, host_cert, main


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_site_ca_and_host_certificate(tmp_path) -> None:
    ca_path = gen_site_ca(tmp_path, "Test CA")
    ca = load(ca_path)
    assert ca.subject.rfc4514_string() == "CN=Test CA"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    cert_path, key_path = host_cert(tmp_path, "node1.example", "/O=Site/OU=Nodes", "p")
    assert cert_path.name == "p_node1.example.pem"
    assert key_path.name == "p_node1.example.key"
    cert = load(cert_path)
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "node1.example"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Site"
    )
    ext = cert.extensions
    assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node1.example"]
    usage = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    ext.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 400 <= days <= 401
    ca.public_key().verify(  # type: ignore[call-arg]
        cert.signature,
        cert.tbs_certificate_bytes,
        ec.ECDSA(cert.signature_hash_algorithm),
    )


@pytest.mark.parametrize(
    ("host", "ips"),
    [("127.0.0.1", ["127.0.0.1"]), ("localhost", ["127.0.0.1", "::1"]), ("x.y", [])],
)
def test_ip_alternative_names(tmp_path, host, ips) -> None:
    cert_path, _ = host_cert(tmp_path, host)
    san = load(cert_path).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    got = san.value.get_values_for_type(x509.IPAddress)
    assert got == [ipaddress.ip_address(ip) for ip in ips]


def test_existing_files_are_kept_unless_forced(tmp_path) -> None:
    cert_path, _ = host_cert(tmp_path, "n")
    first = cert_path.read_bytes()
    host_cert(tmp_path, "n")
    assert cert_path.read_bytes() == first
    host_cert(tmp_path, "n", force=True)
    assert cert_path.read_bytes() != first


def test_rsa_keys_on_request(tmp_path) -> None:
    _, key_path = host_cert(tmp_path, "n", key_type="rsa")
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


def test_bad_subject_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="bad subject component 'Bogus=1'"):
        host_cert(tmp_path, "n", "/O=x/Bogus=1")


def test_cli_init_issue_hash(tmp_path, capsys) -> None:
    d = str(tmp_path / "site")
    assert main(["init", "-d", d, "--ca-name", "My CA"]) == 0
    assert load(tmp_path / "site" / "ca.pem").subject.rfc4514_string() == "CN=My CA"
    assert main(["issue", "-d", d, "alpha", "beta", "--prefix", "x"]) == 0
    out = capsys.readouterr().out
    alpha = tmp_path / "site" / "x_alpha.pem"
    assert str(certhash_from_file(alpha)) in out
    assert main(["hash", str(alpha)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"{alpha}: {cert_hash_text(alpha)}"
    assert CertHash.parse(printed.split(": ")[1]) == certhash_from_file(alpha)


def test_cli_errors(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.pem"
    assert main(["hash", str(missing)]) == 1
    assert f"{missing}" in capsys.readouterr().err
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    assert main(["hash", str(not_pem)]) == 1
    assert "no PEM certificate" in capsys.readouterr().err
    assert main(["issue", "-d", str(tmp_path), "h", "--init", "--subj", "garbage"]) == 1
    assert "bad subject component" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["frobnicate"]) == 2


def test_extra_alternative_names_let_peers_verify_another_address(tmp_path) -> None:
    # A node named "hq" reached at 127.0.0.1: hostname checking (§5.1) needs the address
    # in the certificate, which `entanglegen pki issue hq --san 127.0.0.1` puts there.
    import socket
    import ssl
    import threading

    assert (
        main(["issue", "-d", str(tmp_path), "--init", "hq", "--san", "127.0.0.1"]) == 0
    )
    cert = x509.load_pem_x509_certificate((tmp_path / "hq.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hq", "127.0.0.1"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")
    ]

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "hq.pem", tmp_path / "hq.key")
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.recv(2) == b"ok"
        thread.join(timeout=10)
